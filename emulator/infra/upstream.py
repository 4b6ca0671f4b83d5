"""A small pooled HTTP/1.1 client for the invocation hot path (gateway -> inference container).

Only what ``/ping`` and ``/invocations`` need: one request at a time per connection, keep-alive
connections reused per (host, port), bodies framed by Content-Length, chunked encoding or close.
It exists because a general client (httpx) costs several hundred microseconds per request, which
is the whole overhead budget of the proxy; this one writes one buffer and parses one header block.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

MAX_HEADER_BYTES = 64 * 1024
MAX_RESPONSE_BYTES = 64 * 1024 * 1024     # far above what any SageMaker client accepts back
IDLE_PER_TARGET = 64
PRUNE_EVERY = 1024                        # requests between sweeps of connections servers closed


class UpstreamError(Exception):
    """The container did not answer with a complete HTTP response."""


@dataclass
class UpstreamResponse:
    status: int
    reason: str
    headers: dict[str, str]       # lower-cased names
    body: bytes


class _Connection:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:  # noqa: BLE001 - already broken
            pass


class UpstreamPool:
    """Keep-alive connections per target, owned by one event loop."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, int], collections.deque[_Connection]] = collections.defaultdict(collections.deque)
        self._requests = 0

    async def request(self, host: str, port: int, method: str, path: str, headers: list[tuple[str, str]],
                      body: bytes = b"", timeout: float = 60.0) -> UpstreamResponse:
        """Send one request; a reused connection the server closed meanwhile is retried once on a new one."""
        head = _request_head(host, port, method, path, headers, len(body))
        self._requests += 1
        if self._requests % PRUNE_EVERY == 0:
            self.prune()
        idle = self._idle[(host, port)]
        while idle:
            conn = idle.pop()
            if conn.reader.at_eof() or conn.writer.is_closing():
                conn.close()
                continue
            try:
                return await _bounded(self._exchange(conn, host, port, head, body), timeout)
            except (ConnectionError, asyncio.IncompleteReadError, _StaleConnection):
                conn.close()        # the server dropped an idle connection: try a fresh one
            except BaseException:
                conn.close()
                raise
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), min(timeout, 5.0))
        except (OSError, asyncio.TimeoutError) as exc:
            raise UpstreamError(f"cannot connect to {host}:{port}: {exc or type(exc).__name__}") from None
        conn = _Connection(reader, writer)
        try:
            return await _bounded(self._exchange(conn, host, port, head, body), timeout)
        except (ConnectionError, asyncio.IncompleteReadError, _StaleConnection) as exc:
            conn.close()
            raise UpstreamError(f"{host}:{port} closed the connection without a complete response "
                                f"({type(exc).__name__})") from None
        except BaseException:
            conn.close()
            raise

    async def _exchange(self, conn: _Connection, host: str, port: int, head: bytes, body: bytes
                        ) -> UpstreamResponse:
        writer = conn.writer
        if len(body) < 65536:
            writer.write(head + body)
        else:
            writer.writelines((head, body))
        await writer.drain()
        response, keep = await _read_response(conn.reader)
        if keep and len(self._idle[(host, port)]) < IDLE_PER_TARGET:
            self._idle[(host, port)].append(conn)
        else:
            conn.close()
        return response

    def prune(self) -> None:
        """Drop idle connections the other side has closed (containers of retired deployments)."""
        for target in list(self._idle):
            alive: collections.deque[_Connection] = collections.deque()
            for conn in self._idle[target]:
                if conn.reader.at_eof() or conn.writer.is_closing():
                    conn.close()
                else:
                    alive.append(conn)
            if alive:
                self._idle[target] = alive
            else:
                del self._idle[target]

    def close(self) -> None:
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


T = TypeVar("T")

if sys.version_info >= (3, 11):
    async def _bounded(awaitable: Awaitable[T], timeout: float) -> T:
        """``wait_for`` without the extra task per request (a measurable cost on the hot path)."""
        async with asyncio.timeout(timeout):
            return await awaitable
else:  # pragma: no cover - Python 3.10
    _bounded = asyncio.wait_for


class _StaleConnection(Exception):
    pass


def _request_head(host: str, port: int, method: str, path: str, headers: list[tuple[str, str]],
                  length: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _read_response(reader: asyncio.StreamReader) -> tuple[UpstreamResponse, bool]:
    try:
        block = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _StaleConnection from None
        raise
    except asyncio.LimitOverrunError:
        raise UpstreamError("the container sent response headers larger than 64 KiB") from None
    if len(block) > MAX_HEADER_BYTES:
        raise UpstreamError("the container sent response headers larger than 64 KiB")
    text = block.decode("latin-1")
    status_line, *header_lines = text.split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise UpstreamError(f"the container answered something that is not HTTP: {status_line[:80]!r}")
    version, status = parts[0], int(parts[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        if not line:
            continue
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        if length > MAX_RESPONSE_BYTES:
            raise UpstreamError(f"the container's response is {length} bytes; smlocal accepts at most "
                                f"{MAX_RESPONSE_BYTES}")
        body = await reader.readexactly(length) if length else b""
    elif status in (204, 304) or 100 <= status < 200:
        body = b""
    else:
        body = await reader.read(MAX_RESPONSE_BYTES)
        keep = False
    return UpstreamResponse(status, parts[2] if len(parts) > 2 else "", headers, body), keep


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":   # trailers
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_RESPONSE_BYTES:
            raise UpstreamError(f"the container's response exceeds {MAX_RESPONSE_BYTES} bytes")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)
