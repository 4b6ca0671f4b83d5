"""``smlocal up`` in the foreground: S3, the Docker bridge relay, the default bucket, the SDK
config file and the gateway, started in that order and stopped in reverse."""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import uvicorn

from emulator import __version__
from emulator.api.limits import uvicorn_options
from emulator.cli.instance import RuntimeInfo, embedded_credentials, write_sdk_config
from emulator.config import S3Settings, Settings
from emulator.s3.bridge import BridgeRelay
from emulator.s3.client import S3Client, S3Error
from emulator.s3.embedded import EmbeddedS3, S3StartError
from emulator.s3.watchdog import S3Watchdog

log = logging.getLogger("smlocal")


class StartError(Exception):
    """``up`` cannot start; the message says what to do."""


def check_gateway_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is fine
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise StartError(f"port {port} on {host} is already in use by another program; choose "
                                 "another with --port (or stop that program)") from None
            raise StartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def run(settings: Settings, s3_endpoint: str | None, s3_keys: tuple[str, str] | None,
        progress: Callable[[str], None]) -> None:
    """Start everything, serve until SIGINT/SIGTERM, stop everything."""
    check_gateway_port(settings.host, settings.port)  # the S3 server checks its own port
    # SIGTERM before uvicorn installs its own handlers must still unwind the cleanup stack
    signal.signal(signal.SIGTERM, _exit_on_signal)
    from emulator.server import private_directory

    private_directory(settings.data_dir)       # before S3 and the logs write into it
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as cleanup:
        s3_pid = None
        container_endpoint = None
        if s3_endpoint is None:   # the embedded S3 server
            access, secret = embedded_credentials(settings.data_dir)
            server = EmbeddedS3(settings.s3_data_dir, settings.s3_port, access, secret,
                                log_file=settings.logs_dir / "s3.log")
            progress(f"starting the embedded S3 server (SeaweedFS) on 127.0.0.1:{settings.s3_port}")
            started = time.monotonic()
            try:
                server.start()
            except S3StartError as exc:
                raise StartError(str(exc)) from None
            cleanup.callback(server.stop)
            progress(f"S3 answers at {server.endpoint} ({time.monotonic() - started:.1f} s)")
            s3_endpoint, s3_pid = server.endpoint, server.pid
            relay = BridgeRelay(settings.s3_port)
            try:
                address = relay.start()
            except OSError as exc:
                raise StartError(f"cannot relay S3 to containers on the Docker bridge port "
                                 f"{settings.s3_port}: {exc.strerror or exc}; pick another --s3-port") from None
            if address:
                cleanup.callback(relay.stop)
                container_endpoint = f"http://host.docker.internal:{settings.s3_port}"
                progress(f"containers reach S3 at {container_endpoint} (relay on {address})")
            else:
                progress("no Docker bridge found: containers will not reach S3 until Docker runs "
                         "and smlocal restarts")
            watchdog = _watch(server, relay if address else None, settings.runtime_file)
            cleanup.callback(watchdog.stop)     # before the server's stop (the stack unwinds in reverse)
        else:
            access, secret = s3_keys or ("", "")
            container_endpoint = os.environ.get("SMLOCAL_S3_CONTAINER_ENDPOINT") or s3_endpoint
        s3 = S3Settings(endpoint=s3_endpoint, access_key=access, secret_key=secret,
                        container_endpoint=container_endpoint or "")
        settings = settings.with_(s3=s3)
        client = S3Client(s3, settings.region)
        try:
            client.wait_ready(30)
            if client.ensure_bucket(settings.default_bucket):
                progress(f"created the default bucket s3://{settings.default_bucket}")
        except S3Error as exc:
            raise StartError(f"{exc}. Check --s3-endpoint and the S3 keys.") from None
        sdk_config = write_sdk_config(settings)
        info = RuntimeInfo(
            pid=os.getpid(), gateway_url=settings.gateway_url, s3_endpoint=s3_endpoint,
            access_key=access, secret_key=secret, region=settings.region,
            account_id=settings.account_id, data_dir=str(settings.data_dir), sdk_config=str(sdk_config),
            s3_pid=s3_pid, s3_container_endpoint=container_endpoint, started_at=time.time(),
            version=__version__, auth=settings.auth)
        info.save(settings.runtime_file)  # names our S3 process even if we die before serving
        cleanup.callback(_forget, settings.runtime_file)
        _serve(settings, progress)


def _watch(server: EmbeddedS3, relay: BridgeRelay | None, runtime_file: Path) -> S3Watchdog:
    """Restart weed when it dies or hangs (the relay steps aside meanwhile); SIGUSR1 retries at once."""
    def restarted(pid: int | None) -> None:
        if relay is not None:
            relay.start()
        info = RuntimeInfo.load(runtime_file)
        if info is not None and info.pid == os.getpid() and pid is not None:
            info.s3_pid = pid
            info.s3_restarts += 1
            info.save(runtime_file)

    watchdog = S3Watchdog(server, before_start=relay.stop if relay is not None else None, after_start=restarted)
    signal.signal(signal.SIGUSR1, lambda signum, frame: watchdog.poke())
    watchdog.start()
    return watchdog


def _forget(runtime_file: Path) -> None:
    current = RuntimeInfo.load(runtime_file)
    if current is not None and current.pid == os.getpid():
        runtime_file.unlink(missing_ok=True)


def _serve(settings: Settings, progress: Callable[[str], None]) -> None:
    from emulator.server import create

    app, _ = create(settings)
    # The gateway's event loop shares the GIL with job, hosting and request worker threads; with the
    # default 5 ms switch interval a loop that gave the GIL up for a system call waits that long to
    # get it back, which dominated control-plane p99 under 16 clients (docs/benchmarks.md).
    sys.setswitchinterval(0.0005)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=10,
                            **uvicorn_options(settings.header_timeout, settings.max_header_bytes,
                                              settings.keep_alive_timeout, settings.body_timeout))
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            progress(f"SageMaker API ready at {settings.gateway_url} (data in {settings.data_dir})")

    threading.Thread(target=announce, daemon=True).start()
    server.run()
    if not server.started:
        raise StartError(f"the gateway could not listen on {settings.host}:{settings.port}")
