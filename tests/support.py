"""Test helpers shared by every ring (imported by the conftest files and tests)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import uvicorn
from botocore.config import Config

from emulator.api.limits import uvicorn_options
from emulator.config import S3Settings, Settings
from emulator.infra.containers import ContainerRuntime
from emulator.server import create

# keys of the test S3 server (tests/integration/conftest.py: embedded_s3)
S3_ACCESS, S3_SECRET = "AKIASMLOCALTEST00001", "smlocal-test-secret-key-0123456789abcdef"

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"


_ISSUED: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, never the same one twice in this process (the system may hand the
    same ephemeral port to two consecutive binds). Where the code under test can bind port 0 itself,
    prefer that: another process may still take this port before it is used."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _ISSUED:
            _ISSUED.add(port)
            return port


def docker_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class LiveGateway:
    """The real FastAPI app served by uvicorn in a thread, as `smlocal up` serves it."""

    def __init__(self, data_dir: Path, s3: S3Settings | None = None, containers: ContainerRuntime | None = None,
                 **overrides) -> None:
        # bound here and handed to uvicorn: the port is ours before anything else can take it, and
        # connections wait in the backlog until the server accepts them
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        overrides.setdefault("credentials", (S3_ACCESS, S3_SECRET))   # the keys requests must be signed with
        self.settings = Settings(data_dir=data_dir, host="127.0.0.1", port=self.port,
                                 region=REGION, account_id=ACCOUNT, s3=s3, **overrides)
        self.url = f"http://127.0.0.1:{self.port}"
        self.app, self.emulator = create(self.settings, containers)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on", **uvicorn_options(
                                    self.settings.header_timeout, self.settings.max_header_bytes,
                                    self.settings.keep_alive_timeout, self.settings.body_timeout))
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> LiveGateway:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.socket.close()

    def client(self, service: str, **kwargs):
        return boto3.client(
            service, endpoint_url=self.url, region_name=REGION,
            aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET,
            config=Config(retries={"max_attempts": 1}, **kwargs))


@contextlib.contextmanager
def live_gateway(data_dir: Path, **kwargs) -> Iterator[LiveGateway]:
    with LiveGateway(data_dir, **kwargs) as gateway:
        yield gateway


def wait_for(describe, field: str, done: set, timeout: float = 60) -> dict:
    """Call ``describe`` until its ``field`` is one of ``done``; the last answer (fails with it on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        record = describe()
        if record[field] in done:
            return record
        assert time.monotonic() < deadline, f"still {record[field]}: {record}"
        time.sleep(0.05)


def fresh_spares(pool, internal: bool, host_access: bool, count: int = 2, timeout: float = 60) -> list[str]:
    """Empty ``pool`` (``jobs/network_pool.py``), mark the kind wanted by one take (which finds nothing),
    refill, and wait until ``count`` spares of that kind are ready: their names."""
    from emulator.jobs.network_pool import Variant

    pool.release()
    assert pool.take(internal=internal, host_access=host_access) is None
    pool.refill()
    return spares_ready(pool, Variant(internal, host_access).name, count, timeout)


def spares_ready(pool, kind: str, count: int = 2, timeout: float = 60) -> list[str]:
    """Wait until ``pool`` holds ``count`` ready spares of ``kind`` (normal, internal, sealed): their names."""
    deadline = time.monotonic() + timeout
    while len(spares := pool.spares().get(kind, [])) < count:
        assert time.monotonic() < deadline, pool.spares()
        time.sleep(0.02)
    return list(spares)


def pool_leftovers(gateway: LiveGateway, timeout: float = 10) -> list[str]:
    """Docker networks of ``gateway``'s network pool (``jobs/network_pool.py``) that are not its ready
    spares: networks jobs took and left behind (none once every job ended and the refills settled)."""
    import docker

    from emulator.jobs.network_pool import POOL_LABEL, pool_labels

    client = docker.from_env()
    home = pool_labels(gateway.settings.data_dir)[POOL_LABEL]
    deadline = time.monotonic() + timeout
    while True:
        spares = {n for names in gateway.emulator.jobs.networks.spares().values() for n in names}
        found = {n.name for n in client.networks.list(filters={"label": f"{POOL_LABEL}={home}"})} - spares
        if not found or time.monotonic() > deadline:
            return sorted(found)
        time.sleep(0.2)


class CleanVenv:
    """``pip install -e <project>`` into a fresh virtualenv (test_packaging.py), built in a thread started when
    collection ends (tests/integration/conftest.py): the install is about 45 s of pip, and the tests before
    test_packaging.py mostly wait on containers, so it overlaps them instead of stalling the run. It touches
    no Docker object, port or emulator state; its pip runs write to files, not pipes."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.venv: Path | None = None
        self.error = ""

    def start(self, root: Path, parent: Path) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._build, args=(root, parent), daemon=True)
            self.thread.start()

    def _build(self, root: Path, parent: Path) -> None:
        import sys
        venv, log = parent / "venv", parent / "install.log"
        try:
            with log.open("w") as out:
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120, stdout=out,
                               stderr=subprocess.STDOUT)
                code = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-e", str(root)],
                                      stdout=out, stderr=subprocess.STDOUT, timeout=900).returncode
            if code == 0:
                self.venv = venv
            else:
                self.error = f"pip install exited {code}:\n{log.read_text()[-6000:]}"
        except Exception as error:  # noqa: BLE001 - reported by wait()
            self.error = f"{error!r}\n{log.read_text()[-6000:] if log.exists() else ''}"

    def wait(self, root: Path, parent: Path) -> Path:
        """The venv (built now if no thread was started); fails the test with pip's output if it did not build."""
        self.start(root, parent)
        assert self.thread is not None
        self.thread.join(timeout=1000)
        assert self.venv is not None, self.error or "the clean venv is still installing"
        return self.venv


CLEAN_VENV = CleanVenv()
