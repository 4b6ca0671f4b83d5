"""Container output -> a CloudWatch-like log stream, live (flushed every 0.2 s) and durable."""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable

from emulator.infra.containers import ContainerRuntime
from emulator.state.db import DatabaseClosed
from emulator.state.logs import LogStore

log = logging.getLogger(__name__)
FLUSH_SECONDS = 0.2
MAX_BATCH = 1000


class LogPump:
    """Follows one container's stdout/stderr until it exits.

    ``on_line(timestamp_ms, line)`` sees every line (metrics). After a restart, ``since_ms`` and
    ``seen`` (the messages already stored at exactly that millisecond) avoid duplicates.
    """

    def __init__(self, engine: ContainerRuntime, container_id: str, store: LogStore, group: str, stream: str,
                 on_line: Callable[[int, str], None] | None = None, since_ms: int | None = None,
                 seen: collections.Counter | None = None) -> None:
        self.engine, self.container_id, self.store = engine, container_id, store
        self.group, self.stream = group, stream
        self.on_line = on_line
        self.since_ms = since_ms
        self.seen = seen or collections.Counter()
        self.tail: collections.deque[str] = collections.deque(maxlen=25)
        self._pending: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._reader = threading.Thread(target=self._read, name=f"logs-{stream}", daemon=True)
        self._flusher = threading.Thread(target=self._flush_loop, name=f"flush-{stream}", daemon=True)

    def start(self) -> LogPump:
        self.store.create_stream(self.group, self.stream)
        self._reader.start()
        self._flusher.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        """Wait until the stream ended (the container exited) and everything is stored."""
        self._reader.join(timeout)
        self._done.set()
        self._flusher.join(timeout)
        self._flush()

    def _read(self) -> None:
        since = self.since_ms / 1000 if self.since_ms else None
        try:
            for timestamp, line in self.engine.logs(self.container_id, since=since):
                if self.since_ms is not None and timestamp <= self.since_ms:
                    if timestamp < self.since_ms or self.seen[line] > 0:
                        self.seen[line] -= 1
                        continue
                self.tail.append(line)
                if self.on_line is not None:
                    try:
                        self.on_line(timestamp, line)
                    except Exception:
                        log.exception("log line callback failed")
                with self._lock:
                    self._pending.append((timestamp, line))
                    full = len(self._pending) >= MAX_BATCH
                if full:
                    self._flush()
        finally:
            self._done.set()

    def _flush_loop(self) -> None:
        while not self._done.wait(FLUSH_SECONDS):
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            try:
                self.store.append(self.group, self.stream, batch)
            except DatabaseClosed:  # smlocal is stopping; a reattaching pump re-reads these lines
                return
            except Exception:
                log.exception("could not store %d log lines of %s", len(batch), self.stream)
