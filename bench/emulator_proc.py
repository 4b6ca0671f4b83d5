"""smlocal as users run it (`smlocal up` in its own process), on private ports and a private data dir,
with a sampler for its resident memory."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import psutil
from botocore.config import Config

from bench.common import free_port
from emulator.cli.instance import RuntimeInfo, env_lines

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@dataclass
class Emulator:
    url: str
    info: RuntimeInfo
    process: subprocess.Popen
    log: Path

    def client(self, service: str = "sagemaker", **config):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=self.keys[0],
                            aws_secret_access_key=self.keys[1], config=Config(retries={"max_attempts": 1}, **config))

    @property
    def keys(self) -> tuple[str, str]:
        """The keys `smlocal env` hands out, which every request must be signed with."""
        return self.info.access_key, self.info.secret_key

    def s3(self):
        return boto3.client("s3", endpoint_url=self.info.s3_endpoint, region_name="us-east-1",
                            aws_access_key_id=self.info.access_key, aws_secret_access_key=self.info.secret_key,
                            config=Config(s3={"addressing_style": "path"}, max_pool_connections=32))

    def env(self) -> dict[str, str]:
        """What points unmodified SDK code at this emulator (as `smlocal env` prints)."""
        exports = [line.split(" ", 1)[1] for line in env_lines(self.info) if line.startswith("export ")]
        return {key: shlex.split(value)[0] for key, value in (item.split("=", 1) for item in exports)}


@contextlib.contextmanager
def running(extra_env: dict[str, str] | None = None, cwd: Path | None = None,
            preamble: str = "") -> Iterator[Emulator]:
    """`smlocal up` (foreground) in a child process; stopped with SIGINT, like Ctrl-C. ``cwd``: run
    another checkout's code (``python -c`` puts the working directory first on ``sys.path``).
    ``preamble``: Python run before the emulator is imported (a benchmark's instrumentation)."""
    with tempfile.TemporaryDirectory(prefix="smlocal-bench-") as tmp:
        port, s3_port = free_port(), free_port()
        log = Path(tmp) / "smlocal.log"
        env = {**os.environ, **(extra_env or {})}
        code = preamble + "from emulator.cli.main import app; app()"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-c", code, "up", "--port", str(port), "--s3-port", str(s3_port),
                 "--data-dir", str(Path(tmp) / "data"), "--no-build-images"],
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=cwd)
        try:
            info = _wait_ready(Path(tmp) / "data" / "runtime.json", process, log)
            yield Emulator(info.gateway_url, info, process, log)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            stop_endpoint_containers(Path(tmp) / "data")


def stop_endpoint_containers(data_dir: Path) -> None:
    """What `smlocal down` adds to stopping the process: endpoint containers outlive the gateway (a
    restart reattaches to them), so a benchmark that stops its gateway removes them itself."""
    from emulator.hosting.fleet import stop_all
    from emulator.infra.docker_engine import DockerEngine

    with contextlib.suppress(Exception):   # no Docker engine: nothing was started
        stop_all(DockerEngine(), data_dir, grace=1)


def _wait_ready(runtime_file: Path, process: subprocess.Popen, log: Path) -> RuntimeInfo:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"smlocal exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        info = RuntimeInfo.load(runtime_file)
        if info is not None and info.gateway_alive():
            return info
        time.sleep(0.1)
    raise RuntimeError(f"smlocal did not become ready:\n{log.read_text()[-3000:]}")


class PeakRss:
    """Samples a process's resident set size every few milliseconds; `peak` is in bytes."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.baseline = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
