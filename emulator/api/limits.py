"""Slow and oversized clients at the HTTP level, where the ASGI application cannot see them.

uvicorn's httptools protocol has no limit on header size and no deadline for a request's headers or
body: a client could hold a connection forever by sending a byte now and then (slowloris), or make
the server buffer megabytes of headers. ``guarded_protocol`` returns uvicorn's protocol with:

- a deadline for the request line and headers (``header_timeout``, from the connection's first byte
  or the previous response): 408 and close;
- a cap on their size (``max_header_bytes``): 431 and close, counted while they arrive;
- an idle limit while a body arrives (``body_timeout`` between chunks): the connection is closed and
  the application sees the client disconnect.

Keep-alive connections close after ``keep_alive_timeout`` idle seconds (uvicorn's own timer). Body
sizes are capped per protocol by the gateway (``max_body_bytes``) and, for S3, by
``api/guard.py`` (S3's 5 GiB single-upload limit).

The same protocol serves plain ``InvokeEndpoint`` requests itself, without the ASGI application,
when the application carries an ``InvocationProxy`` (``api/invoke_proxy.py``); the limits above
apply to them in the same way.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from emulator.api import invoke_proxy

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large"}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of the module docstring (set by ``guarded_protocol``)."""

    header_timeout = 30.0
    max_header_bytes = 64 * 1024
    body_timeout = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._fields = 0
        self._oversized = False
        self._in_headers = True
        self._body_done = True
        self._timer: asyncio.TimerHandle | None = None
        self._deadline = 0.0
        self._on_timeout: Any = None
        self._proxy = invoke_proxy.find_proxy(self.app)
        self._raw: invoke_proxy.RawInvocation | None = None
        self._arm(self.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    # One deadline at a time. Re-arming (several times per request) only moves the deadline: the pending
    # timer, when it fires early, sleeps again until it; a loop timer per event cost ~5 % of an invocation.
    def _arm(self, delay: float, callback: Any) -> None:
        self._deadline = self.loop.time() + delay
        self._on_timeout = callback
        if self._timer is None:
            self._timer = self.loop.call_at(self._deadline, self._expired)

    def _disarm(self) -> None:
        self._on_timeout = None

    def _expired(self) -> None:
        self._timer = None
        callback = self._on_timeout
        if callback is None:
            return
        if self.loop.time() < self._deadline:
            self._timer = self.loop.call_at(self._deadline, self._expired)
            return
        self._on_timeout = None
        callback()

    def _refuse(self, status: int, message: str) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or self._in_headers:
            body = message.encode()
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"content-length: %d\r\nconnection: close\r\n\r\n%s"
                                 % (status, _REASONS[status], len(body), body))
        self.transport.close()

    def _headers_too_slow(self) -> None:
        if self._in_headers and (self.cycle is None or self.cycle.response_complete):
            self._refuse(408, f"The request line and headers did not arrive within {self.header_timeout:g} s.")

    def _body_too_slow(self) -> None:
        if self.flow.read_paused:             # the application is slow, not the client
            self._arm(self.body_timeout, self._body_too_slow)
            return
        self.logger.info("closing a connection whose request body stalled for %g s", self.body_timeout)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        in_headers = self._in_headers
        super().data_received(data)
        if in_headers and self._in_headers:   # the whole chunk belongs to unfinished headers
            self._header_bytes += len(data)
        if self._oversized or (self._in_headers and self._header_bytes > self.max_header_bytes):
            self._refuse(431, f"The request line and headers exceed {self.max_header_bytes} bytes.")

    def on_message_begin(self) -> None:
        self._raw = None
        super().on_message_begin()
        self._fields = 0
        self._body_done = False
        if not self._in_headers:
            self._header_bytes = 0
        self._in_headers = True
        self._arm(self.header_timeout, self._headers_too_slow)   # from the request's first byte

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._fields += len(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._fields += len(name) + len(value) + 4

    def on_headers_complete(self) -> None:
        if self._fields > self.max_header_bytes:   # they all came in one chunk: never reaches the app
            self._oversized = True
            return
        self._in_headers = False
        self._arm(self.body_timeout, self._body_too_slow)
        proxy, parser = self._proxy, self.parser
        if proxy is not None and (self.cycle is None or self.cycle.response_complete) and not self.pipeline \
                and self.limit_concurrency is None and parser.get_method() == b"POST" and not parser.should_upgrade():
            keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
            raw = proxy.accept(self.url, self.headers, keep_alive)
            if raw is not None:           # served by the proxy: no ASGI cycle (it stands in for one)
                self._raw = raw
                self.cycle = raw  # type: ignore[assignment]
                return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._oversized:
            return
        self._arm(self.body_timeout, self._body_too_slow)
        if self._raw is not None:
            self._raw.chunks.append(body)
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        if self._oversized:
            return
        self._disarm()
        self._body_done = True
        if self._raw is not None and self._proxy is not None:
            invoke_proxy.start(self, self._proxy, self._raw)
            return
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._body_done:
            # the next request's headers, after keep-alive idles; not while the request's own body is still
            # arriving (an answer sent before reading it all): those bytes are body, not headers
            self._in_headers = True
            self._header_bytes = 0


def guarded_protocol(header_timeout: float, max_header_bytes: int, body_timeout: float) -> type[asyncio.Protocol]:
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {
        "header_timeout": header_timeout, "max_header_bytes": max_header_bytes, "body_timeout": body_timeout})


def uvicorn_options(header_timeout: float, max_header_bytes: int, keep_alive_timeout: float,
                    body_timeout: float | None = None) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` with the limits above."""
    return {"http": guarded_protocol(header_timeout, max_header_bytes, body_timeout or header_timeout * 2),
            "timeout_keep_alive": keep_alive_timeout, "h11_max_incomplete_event_size": max_header_bytes}
