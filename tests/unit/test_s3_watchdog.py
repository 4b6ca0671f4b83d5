"""The S3 watchdog's restart and backoff logic, with a stand-in for the weed process."""

from __future__ import annotations

import itertools
import time

from emulator.s3 import watchdog as wd
from emulator.s3.embedded import S3StartError


class FakeServer:
    endpoint = "http://127.0.0.1:1"

    def __init__(self, failures: int = 0) -> None:
        self.running = True
        self.failures = failures
        self.starts: list[float] = []
        self.pid: int | None = 100

    def start(self, timeout: float = 60) -> None:
        self.starts.append(time.monotonic())
        if self.failures:
            self.failures -= 1
            raise S3StartError("port taken")
        self.running = True
        self.pid = 100 + len(self.starts)

    def stop(self, timeout: float = 15) -> None:
        self.running = False


def _wait(check, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_restarts_a_dead_server_with_backoff_and_hooks(monkeypatch):
    monkeypatch.setattr(wd, "_answers_http", lambda url: True)
    server = FakeServer(failures=2)
    events = []
    dog = wd.S3Watchdog(server, interval=0.01, first_backoff=0.05, max_backoff=1,  # type: ignore[arg-type]
                        before_start=lambda: events.append("relay off"),
                        after_start=lambda pid: events.append(f"relay on {pid}"))
    dog.start()
    try:
        server.running = False
        _wait(lambda: dog.restarts == 1)
        assert len(server.starts) == 3 and server.running
        gaps = [b - a for a, b in itertools.pairwise(server.starts)]
        assert gaps[1] > gaps[0] * 1.5          # exponential backoff between failed starts
        assert events[-2:] == ["relay off", "relay on 103"]
    finally:
        dog.stop()


def test_a_hung_server_is_restarted(monkeypatch):
    monkeypatch.setattr(wd, "_answers_http", lambda url: False)
    server = FakeServer()
    dog = wd.S3Watchdog(server, interval=0.01, hung_after=3)  # type: ignore[arg-type]
    dog.start()
    try:
        _wait(lambda: dog.restarts >= 1)
    finally:
        dog.stop()


def test_poke_skips_the_backoff(monkeypatch):
    monkeypatch.setattr(wd, "_answers_http", lambda url: True)
    server = FakeServer(failures=1)
    dog = wd.S3Watchdog(server, interval=0.01, max_backoff=60)  # type: ignore[arg-type]
    server.running = False
    dog.start()
    try:
        _wait(lambda: len(server.starts) == 1)
        time.sleep(0.05)
        dog.poke()                               # the next try would otherwise wait 1 s
        _wait(lambda: dog.restarts == 1, timeout=0.8)
    finally:
        dog.stop()
