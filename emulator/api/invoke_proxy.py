"""InvokeEndpoint and JSON-protocol calls at the HTTP protocol level: the hot paths without ASGI.

uvicorn's protocol (``api/limits.py``) asks :class:`InvocationProxy` about every request once its
headers are parsed. A plain ``POST /endpoints/{name}/invocations`` (a name without escapes, no query
string, a ``Content-Length`` body within the limit, no ``Transfer-Encoding``, no ``Expect``, no
``Origin``, a ``Host`` smlocal serves) is taken over: its body is collected from the parser's
callbacks, and once complete the request is signature-checked, validated and handed to the same
``InvokeEndpoint`` handler (``sagemaker/invocations.py``: route, variant weights, pooled upstream
connection, ModelError, data capture) as every other path; the answer is written to the transport in
one buffer with the headers uvicorn would have added (``date``, ``server``, ``connection: close``
when the connection ends). Errors are rendered by the same ``json_error`` as the ASGI path.

A JSON-protocol call (``POST /`` with ``X-Amz-Target``: the control plane, CloudWatch Logs) under the
same conditions is served the same way through ``Gateway.json_call``, the function ``api/jsonpath.py``
calls, and its ``Response`` written in one buffer.

Everything else (another route, CORS origins, a refused Host, chunked or oversized bodies, names with
percent-escapes, pipelined requests queued behind another one) goes through the ASGI application
unchanged (``api/guard.py`` -> ``api/fastpath.py`` -> FastAPI), which answers it as before.

What this skips per request: the ASGI scope, ``RequestResponseCycle`` and its events, the guard and
fast-path middleware and the message dictionaries (about a third of the gateway's CPU per
invocation, ``bench/NOTES.md``).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from uvicorn.protocols.http.httptools_impl import HEADER_VALUE_RE, STATUS_LINE

from emulator.api import restjson
from emulator.api.auth import JSON
from emulator.api.gateway import Gateway
from emulator.api.guard import host_name
from emulator.api.responses import json_error, new_request_id
from emulator.handler_spec import Where

log = logging.getLogger(__name__)

# names the model allows (pattern ^[a-zA-Z0-9](-*[a-zA-Z0-9])*, at most 63) never need escapes; anything
# else (escapes, a query string, another route) takes the ASGI path
_PATH = re.compile(rb"/endpoints/([A-Za-z0-9-]{1,63})/invocations")
_JSON_HEADERS = {b"x-amz-target": "target", b"user-agent": "user_agent"}


class _Event:
    """What uvicorn's protocol calls on a cycle's event (``connection_lost``): nobody waits on it here."""

    __slots__ = ()

    def set(self) -> None:
        pass


_EVENT = _Event()


class RawInvocation:
    """The request being served; stands in for uvicorn's ``RequestResponseCycle`` while it is."""

    __slots__ = ("params", "raw_path", "headers", "chunks", "keep_alive", "response_complete", "disconnected",
                 "target", "user_agent")
    message_event = _EVENT

    def __init__(self, params: dict[str, Any], raw_path: str, headers: list[tuple[bytes, bytes]],
                 keep_alive: bool, target: str | None = None, user_agent: str | None = None) -> None:
        self.params = params
        self.raw_path = raw_path
        self.headers = headers
        self.chunks: list[bytes] = []
        self.keep_alive = keep_alive
        self.response_complete = False
        self.disconnected = False
        self.target = target            # a JSON-protocol call (X-Amz-Target) rather than an invocation
        self.user_agent = user_agent


class InvocationProxy:
    """Serves plain invocations for uvicorn's protocol (see the module docstring)."""

    def __init__(self, gateway: Gateway, names: frozenset[str]) -> None:
        self.gateway = gateway
        self.names = names
        self.max_body = gateway.max_body_bytes
        self.service = gateway.services.get("sagemaker-runtime")
        self.members: dict[bytes, str] = {}
        self._hosts: dict[bytes, bool] = {}
        self._valid: set[tuple[str, str]] = set()     # (member, value) pairs that passed validation
        if self.service is None or "InvokeEndpoint" not in self.service.handlers:
            self.service = None       # the ASGI path answers (UnknownOperation, as it always did)
            return
        self.operation, spec = self.service.operation("InvokeEndpoint")
        if spec.where is not Where.AWAITED:
            self.service = None
            return
        self.handler = spec.handler
        shape = self.operation.input_shape
        self.members = {m.serialization["name"].lower().encode("latin-1"): name
                        for name, m in shape.members.items() if m.serialization.get("location") == "header"}
        self.body_max = shape.members["Body"].metadata.get("max", self.max_body)

    def _host_served(self, host: bytes) -> bool:
        served = self._hosts.get(host)
        if served is None:
            served = host_name(host.decode("latin-1")) in self.names
            if len(self._hosts) < 64:
                self._hosts[host] = served
        return served

    def accept(self, url: bytes, headers: list[tuple[bytes, bytes]], keep_alive: bool) -> RawInvocation | None:
        """The invocation this protocol serves itself, or None: the ASGI application serves the request."""
        if url == b"/":
            return self._accept_json(headers, keep_alive)
        found = _PATH.fullmatch(url)
        if found is None or self.service is None:
            return None
        picked = self._scan(headers, self.members, last_wins=True)   # as api/fastpath.py reads them
        if picked is None:
            return None
        picked["EndpointName"] = found.group(1).decode("ascii")
        return RawInvocation(picked, url.decode("latin-1"), headers, keep_alive)

    def _accept_json(self, headers: list[tuple[bytes, bytes]], keep_alive: bool) -> RawInvocation | None:
        """A JSON-protocol call (``POST /`` with ``X-Amz-Target``) under the same conditions as an invocation;
        the first of each header counts, as ``api/jsonpath.py`` reads them."""
        picked = self._scan(headers, _JSON_HEADERS, last_wins=False)
        if picked is None or not picked.get("target"):
            return None
        return RawInvocation({}, "/", headers, keep_alive, picked["target"], picked.get("user_agent"))

    def _scan(self, headers: list[tuple[bytes, bytes]], wanted: dict[bytes, str], last_wins: bool
              ) -> dict[str, Any] | None:
        """``wanted`` headers' values by their keys, or None when the protocol must not serve the request:
        no or one unserved ``Host`` (the first one counts, as the guard judges it), no valid single
        ``Content-Length``, a body too large, or a header the ASGI application has to see (``Origin`` for
        the browser guard, ``Transfer-Encoding``, ``Expect``)."""
        picked: dict[str, Any] = {}
        host, length = None, -1
        for name, value in headers:
            key = wanted.get(name)
            if key is not None:
                if last_wins or key not in picked:
                    picked[key] = value.decode("latin-1")
            elif name == b"host":
                if host is None:
                    host = value
            elif name == b"content-length":
                if length != -1 or not value.isdigit():
                    return None
                length = int(value)
            elif name in (b"origin", b"transfer-encoding", b"expect"):
                return None
        if host is None or length < 0 or length > self.max_body or not self._host_served(host):
            return None
        return picked

    async def serve(self, protocol: Any, request: RawInvocation) -> None:
        """Answer ``request`` on ``protocol``'s transport (as ``api/fastpath.py`` would, byte for byte)."""
        try:
            await self._serve(protocol, request)
        except asyncio.CancelledError:
            _abandon(protocol, request)
            raise
        except Exception:          # as uvicorn does when its application fails: log, close
            log.exception("Exception in ASGI application")
            _abandon(protocol, request)

    async def _serve(self, protocol: Any, request: RawInvocation) -> None:
        request_id = new_request_id()
        chunks = request.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if request.target is not None:
            await self._serve_json(protocol, request, body, request_id)
            return
        try:
            auth = self.gateway.auth
            if auth is not None:
                auth.check(JSON, "POST", request.raw_path, "",
                           [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers], body)
            params = request.params
            params["Body"] = body
            result = (await self.handler(self._validated(params))) or {}
            status, out_headers, out = restjson.render_response(self.operation, result)
            raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in out_headers.items()]
            raw += [(b"x-amzn-requestid", request_id.encode()), (b"content-length", str(len(out)).encode())]
        except Exception as exc:  # noqa: BLE001 - every failure becomes an AWS error
            response = json_error(exc, request_id, content_type="application/json")
            status, raw, out = response.status_code, response.raw_headers, bytes(response.body)
        if protocol.flow.write_paused and not request.disconnected:
            await protocol.flow.drain()
        _write(protocol, request, status, raw, out)


    async def _serve_json(self, protocol: Any, request: RawInvocation, body: bytes, request_id: str) -> None:
        """The call as ``api/jsonpath.py`` serves it (``Gateway.json_call``: signature, validation, handler,
        shaping, errors), its ``Response`` written in one buffer."""
        target = request.target or ""
        service, operation = self.gateway.json_service(target)
        scope = {"method": "POST", "path": "/", "raw_path": b"/", "query_string": b"", "headers": request.headers}

        async def read_body() -> bytes:
            return body

        response = await self.gateway.json_call(service, operation, target, read_body, scope, request.user_agent,
                                                request_id)
        if protocol.flow.write_paused and not request.disconnected:
            await protocol.flow.drain()
        _write(protocol, request, response.status_code, response.raw_headers, bytes(response.body))

    def _validated(self, params: dict[str, Any]) -> dict[str, Any]:
        """``Service.validated``, remembered: the members are checked one by one, independently, so a
        request whose every (member, value) passed before passes again (same params back). Anything not
        seen yet, or a body over the model's limit, is validated in full (and raises its error)."""
        valid = self._valid
        for name, value in params.items():
            if name == "Body":
                if len(value) > self.body_max:
                    return self.service.validated(self.operation, params)  # type: ignore[union-attr]
            elif (name, value) not in valid:
                out = self.service.validated(self.operation, params)  # type: ignore[union-attr]
                if len(valid) > 4096:
                    valid.clear()
                valid.update((n, v) for n, v in params.items() if n != "Body")
                return out
        return params


def _abandon(protocol: Any, request: RawInvocation) -> None:
    if not request.response_complete:
        request.response_complete = True
        protocol.transport.close()


def _write(protocol: Any, request: RawInvocation, status: int, headers: list[tuple[bytes, bytes]],
           body: bytes) -> None:
    """The response as uvicorn's ``RequestResponseCycle.send`` writes it, in one buffer."""
    transport = protocol.transport
    if request.disconnected:
        request.response_complete = True
        return
    content = [STATUS_LINE[status]]
    for name, value in protocol.server_state.default_headers:
        content += (name, b": ", value, b"\r\n")
    for name, value in headers:
        if HEADER_VALUE_RE.search(value):      # uvicorn refuses such a header: the connection is closed
            log.error("Exception in ASGI application: invalid HTTP header value in an invocation's answer")
            request.response_complete = True
            transport.close()
            return
        content += (name, b": ", value, b"\r\n")
    if not request.keep_alive:
        content.append(b"connection: close\r\n")
    content += (b"\r\n", body)
    transport.write(b"".join(content))
    request.response_complete = True
    if not request.keep_alive:
        transport.close()
    protocol.on_response_complete()


def find_proxy(app: Any) -> InvocationProxy | None:
    """The proxy the composition root attached to the application (through uvicorn's wrappers), if any."""
    for _ in range(6):
        proxy = getattr(app, "raw_invocations", None)
        if isinstance(proxy, InvocationProxy):
            return proxy
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


def start(protocol: Any, proxy: InvocationProxy, request: RawInvocation) -> None:
    """Serve ``request`` in a task uvicorn's graceful shutdown waits for, like its own request tasks."""
    tasks: set[asyncio.Task] = protocol.tasks
    task = protocol.loop.create_task(proxy.serve(protocol, request))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
