"""A small pooled HTTP/1.1 client for the invocation hot path (gateway -> inference container).

Only what ``/ping`` and ``/invocations`` need: one request at a time per connection, keep-alive
connections reused per (host, port), bodies framed by Content-Length, chunked encoding or close.
It exists because a general client (httpx) costs several hundred microseconds per request, which
is the whole overhead budget of the proxy; this one writes one buffer and parses one header block.
"""

from __future__ import annotations

import asyncio
import collections
from dataclasses import dataclass

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


class _Connection(asyncio.Protocol):
    """One connection, read by the event loop's callbacks into a buffer; a request's future is resolved
    from ``data_received`` as soon as the buffer holds its whole response (no stream reader, one wake-up)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.eof = False                  # the container closed its side (or the connection was lost)
        self.waiter: asyncio.Future | None = None
        self._head: tuple[int, str, dict[str, str], bool, str, int] | None = None
        self._chunks: list[bytes] = []
        self._chunk_pos = 0
        self._chunk_total = 0

    # --- asyncio.Protocol ---------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.waiter is not None:
            self._wake()

    def eof_received(self) -> None:
        self.eof = True
        self._wake()

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    # --- one exchange ---------------------------------------------------------------------------------
    def closing(self) -> bool:
        return self.eof or self.transport is None or self.transport.is_closing()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def exchange(self, payload: bytes, timeout: float) -> tuple[UpstreamResponse, bool]:
        """Send one request; the response and whether the connection may be reused."""
        assert self.transport is not None
        self._head = None
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        self.transport.write(payload)
        if self.buffer or self.eof:
            self._wake()
        if waiter.done():
            return waiter.result()
        expiry = loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            expiry.cancel()
            self.waiter = None

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        try:
            done = self._parse()
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request, which decides
            self.waiter = None
            waiter.set_exception(exc)
            return
        if done is not None:
            self.waiter = None
            waiter.set_result(done)

    def _parse(self) -> tuple[UpstreamResponse, bool] | None:
        """The buffered response once complete; None while more bytes are needed."""
        if self._head is None and not self._read_head():
            return None
        assert self._head is not None
        status, reason, headers, keep, framing, length = self._head
        body = self._body(framing, length)
        if body is None:
            return None
        self._head = None
        return UpstreamResponse(status, reason, headers, body), keep

    def _read_head(self) -> bool:
        buf = self.buffer
        end = buf.find(b"\r\n\r\n")
        if end < 0 or end + 4 > MAX_HEADER_BYTES:
            if end >= 0 or len(buf) > MAX_HEADER_BYTES:
                raise UpstreamError("the container sent response headers larger than 64 KiB")
            if self.eof:
                if not buf:
                    raise _StaleConnection
                raise asyncio.IncompleteReadError(bytes(buf), None)
            return False
        status, reason, headers, keep = _parse_head(bytes(buf[:end + 4]))
        del buf[:end + 4]
        if "chunked" in headers.get("transfer-encoding", "").lower():
            framing, length = "chunked", 0
            self._chunks, self._chunk_pos, self._chunk_total = [], 0, 0
        elif "content-length" in headers:
            framing, length = "length", int(headers["content-length"])
            if length > MAX_RESPONSE_BYTES:
                raise UpstreamError(f"the container's response is {length} bytes; smlocal accepts at most "
                                    f"{MAX_RESPONSE_BYTES}")
        elif status in (204, 304) or 100 <= status < 200:
            framing, length = "length", 0
        else:
            framing, length, keep = "close", 0, False
        self._head = (status, reason, headers, keep, framing, length)
        return True

    def _body(self, framing: str, length: int) -> bytes | None:
        buf = self.buffer
        if framing == "length":
            if len(buf) < length:
                if self.eof:
                    raise asyncio.IncompleteReadError(bytes(buf), length)
                return None
            body = bytes(buf[:length])
            del buf[:length]
            return body
        if framing == "chunked":
            return self._chunked()
        if not self.eof and len(buf) < MAX_RESPONSE_BYTES:
            return None
        body = bytes(buf[:MAX_RESPONSE_BYTES])
        buf.clear()
        return body

    def _chunked(self) -> bytes | None:
        buf, pos = self.buffer, self._chunk_pos
        while True:
            line_end = buf.find(b"\r\n", pos)
            if line_end < 0:
                break
            size = int(bytes(buf[pos:line_end]).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                trailer = line_end + 2
                while (end := buf.find(b"\r\n", trailer)) >= 0:
                    if end == trailer:          # the empty line after the trailers
                        del buf[:end + 2]
                        return b"".join(self._chunks)
                    trailer = end + 2
                break
            if self._chunk_total + size > MAX_RESPONSE_BYTES:
                raise UpstreamError(f"the container's response exceeds {MAX_RESPONSE_BYTES} bytes")
            start = line_end + 2
            if len(buf) < start + size + 2:
                break
            self._chunks.append(bytes(buf[start:start + size]))
            self._chunk_total += size
            pos = self._chunk_pos = start + size + 2
        if self.eof:
            raise asyncio.IncompleteReadError(bytes(buf), None)
        return None


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(asyncio.TimeoutError())


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
        payload = head + body
        idle = self._idle[(host, port)]
        while idle:
            conn = idle.pop()
            if conn.closing():
                conn.close()
                continue
            try:
                return await self._exchange(conn, host, port, payload, timeout)
            except (ConnectionError, asyncio.IncompleteReadError, _StaleConnection):
                conn.close()        # the server dropped an idle connection: try a fresh one
            except BaseException:
                conn.close()
                raise
        try:
            loop = asyncio.get_running_loop()
            _, conn = await asyncio.wait_for(loop.create_connection(_Connection, host, port), min(timeout, 5.0))
        except (OSError, asyncio.TimeoutError) as exc:
            raise UpstreamError(f"cannot connect to {host}:{port}: {exc or type(exc).__name__}") from None
        try:
            return await self._exchange(conn, host, port, payload, timeout)
        except (ConnectionError, asyncio.IncompleteReadError, _StaleConnection) as exc:
            conn.close()
            raise UpstreamError(f"{host}:{port} closed the connection without a complete response "
                                f"({type(exc).__name__})") from None
        except BaseException:
            conn.close()
            raise

    async def _exchange(self, conn: _Connection, host: str, port: int, payload: bytes, timeout: float
                        ) -> UpstreamResponse:
        response, keep = await conn.exchange(payload, timeout)
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
                if conn.closing():
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


class _StaleConnection(Exception):
    pass


def _request_head(host: str, port: int, method: str, path: str, headers: list[tuple[str, str]],
                  length: int) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(block: bytes) -> tuple[int, str, dict[str, str], bool]:
    """Status, reason, headers (lower-cased names) and keep-alive of a response's header block."""
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
    return status, parts[2] if len(parts) > 2 else "", headers, keep
