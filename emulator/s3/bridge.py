"""A byte-level TCP relay from the Docker bridge gateway to the loopback-only embedded S3.

SeaweedFS binds one address (127.0.0.1) and containers on a Docker bridge cannot reach loopback.
The relay listens on the bridge gateway (docker0's IPv4, e.g. 172.17.0.1) on the same port number
and copies bytes both ways to 127.0.0.1:<port>. Containers address S3 as
``http://host.docker.internal:<port>`` with ``extra_hosts={"host.docker.internal": "host-gateway"}``
(host-gateway resolves to that same gateway address). SigV4 signatures still verify: the Host
header the container signed reaches S3 unchanged.

Start the relay after the S3 server: weed refuses an S3 port that is bound on any address.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import re
import socket
import struct
import subprocess
import threading

log = logging.getLogger(__name__)

_SIOCGIFADDR = 0x8915


def interface_ipv4(name: str) -> str | None:
    """IPv4 address of a network interface (``docker0``), or None if it has none / does not exist."""
    try:
        import fcntl

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            packed = fcntl.ioctl(sock.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        return socket.inet_ntoa(packed[20:24])
    except (ImportError, OSError):
        pass
    try:                                  # same answer through iproute2, e.g. on odd kernels
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", name],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\binet (\d+\.\d+\.\d+\.\d+)/", out)
    return match.group(1) if match else None


def docker_bridge_gateway(network: str = "bridge") -> str | None:
    """The host's address on Docker's default bridge: the SDK's IPAM gateway, else docker0's IPv4.

    Docker 20.10 often leaves ``IPAM.Config[0].Gateway`` empty for the default bridge, hence the
    interface fallback.
    """
    interface = "docker0"
    try:
        import docker
        import requests.exceptions

        failures: tuple[type[BaseException], ...] = (
            docker.errors.DockerException, requests.exceptions.RequestException, OSError, KeyError)
    except ImportError as exc:            # no SDK: read the interface
        log.debug("docker SDK unavailable (%s); reading %s", exc, interface)
        return interface_ipv4(interface)
    try:
        client = docker.from_env(timeout=5)
        try:
            attrs = client.networks.get(network).attrs
        finally:
            client.close()
        for config in (attrs.get("IPAM") or {}).get("Config") or []:
            gateway = config.get("Gateway") or ""
            if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", gateway):
                return gateway
        interface = (attrs.get("Options") or {}).get("com.docker.network.bridge.name") or interface
    except failures as exc:               # no engine, no such network: try the interface
        log.debug("docker SDK gave no bridge gateway (%s); reading %s", exc, interface)
    return interface_ipv4(interface)


class BridgeRelay:
    """Forward ``<bridge gateway>:<listen_port>`` to ``127.0.0.1:<target_port>`` in a background thread.

    ``listen_host`` overrides the gateway discovery (tests relay loopback to loopback); ``listen_port``
    0 lets the system choose a free port, which ``listen_port`` holds once ``start()`` returned.
    ``start()`` returns only once the relay listens.
    """

    def __init__(self, target_port: int, listen_port: int | None = None, *, listen_host: str | None = None,
                 target_host: str = "127.0.0.1", chunk_size: int = 256 * 1024) -> None:
        self.target_port = target_port
        self.listen_port = listen_port if listen_port is not None else target_port
        self.target_host = target_host
        self.chunk_size = chunk_size
        self._listen_host = listen_host
        self._address: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    @property
    def address(self) -> str | None:
        """The address the relay listens on while running."""
        return self._address

    @property
    def active_connections(self) -> int:
        return len(self._tasks)

    def start(self) -> str | None:
        """Listen; the listening address, or None (with a warning) when there is no Docker bridge."""
        if self._thread is not None:
            return self._address
        host = self._listen_host or docker_bridge_gateway()
        if host is None:
            log.warning("no Docker bridge (docker0) found: containers will not reach the embedded S3 "
                        "on port %d", self.target_port)
            return None
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(target=self._run, args=(loop, host, ready), daemon=True,
                                  name=f"s3-bridge-{host}:{self.listen_port}")
        thread.start()
        try:
            ready.result(timeout=30)
        except OSError as exc:
            thread.join(5)
            if exc.errno == errno.EADDRNOTAVAIL:
                log.warning("%s is not an address of this host (remote or rootless Docker?): containers "
                            "will not reach the embedded S3 on port %d", host, self.target_port)
                return None
            raise OSError(exc.errno, f"S3 bridge relay cannot listen on {host}:{self.listen_port}: "
                                     f"{exc.strerror}") from exc
        self._loop, self._thread, self._address = loop, thread, host
        log.info("S3 bridge relay %s:%d -> %s:%d", host, self.listen_port, self.target_host,
                 self.target_port)
        return host

    def stop(self, timeout: float = 10) -> None:
        """Stop listening and drop every relayed connection; safe to call twice."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        self._address = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):       # loop already closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

    def __enter__(self) -> BridgeRelay:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- event-loop side -----------------------------------------------------------------------
    def _run(self, loop: asyncio.AbstractEventLoop, host: str,
             ready: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._handle, host, self.listen_port, reuse_address=True, backlog=1024))
            self.listen_port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises it in the caller's thread
            ready.set_exception(exc)
            loop.close()
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.close()

    async def _shutdown(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        await asyncio.sleep(0)            # let handlers of just-accepted connections register
        while self._tasks:
            pending = list(self._tasks)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._tasks.difference_update(pending)
        if self._server is not None:
            await self._server.wait_closed()
        self._server = None

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        upstream_w: asyncio.StreamWriter | None = None
        try:
            try:
                upstream_r, upstream_w = await asyncio.open_connection(self.target_host, self.target_port)
            except OSError as exc:
                log.debug("S3 bridge relay: %s:%d unreachable: %s", self.target_host, self.target_port, exc)
                _reset(client_w)
                return
            pumps = [asyncio.ensure_future(self._pump(client_r, upstream_w)),
                     asyncio.ensure_future(self._pump(upstream_r, client_w))]
            try:
                done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
                if any(not p.cancelled() and p.exception() is not None for p in done):
                    for writer in (client_w, upstream_w):    # one side reset: reset the other too
                        _reset(writer)
            finally:
                for pump in pumps:
                    pump.cancel()
                await asyncio.gather(*pumps, return_exceptions=True)
        finally:
            for side in (client_w, upstream_w):
                if side is None:
                    continue
                if self._closing:                # on shutdown, do not wait for slow readers
                    side.transport.abort()
                else:
                    side.close()
            self._tasks.discard(task)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy until EOF, then pass the half-close on (FIN) so the other direction keeps flowing."""
        while data := await reader.read(self.chunk_size):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof() and not writer.is_closing():
            writer.write_eof()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with an RST (SO_LINGER 0), as the peer it stands for did; a plain abort sends a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
