"""Shared by the benchmarks: free ports and an in-process smlocal stack (S3 + relay + gateway)."""

from __future__ import annotations

import contextlib
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from emulator.config import S3Settings, Settings
from emulator.s3.bridge import BridgeRelay
from emulator.s3.embedded import EmbeddedS3
from emulator.server import create

ACCESS, SECRET = "AKIASMLOCALBENCH0001", "smlocal-bench-secret-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def stack(**settings) -> Iterator[tuple[str, S3Settings]]:
    """A complete emulator in this process: yields (gateway URL, S3 settings)."""
    with tempfile.TemporaryDirectory(prefix="smlocal-bench-") as tmp:
        s3_port, port = free_port(), free_port()
        server = EmbeddedS3(Path(tmp) / "s3", s3_port, ACCESS, SECRET)
        server.start()
        relay = BridgeRelay(s3_port)
        relay.start()
        s3 = S3Settings(server.endpoint, ACCESS, SECRET, container_endpoint=f"http://host.docker.internal:{s3_port}")
        app, _ = create(Settings(data_dir=Path(tmp) / "data", port=port, s3=s3, **settings))
        gateway = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=gateway.run, daemon=True)
        thread.start()
        while not gateway.started:
            time.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}", s3
        finally:
            gateway.should_exit = True
            thread.join(10)
            relay.stop()
            server.stop()
