"""The invocation hot path at the ASGI level: ``POST /endpoints/{name}/invocations`` is served
without FastAPI's routing, dependency solving, Request and Response objects; every other request
goes to the application unchanged.

Same semantics as the gateway's rest-json path (the same validation, handler, response rendering
and error serialization), a fraction of the per-request cost: this is what keeps the proxy's
added latency within budget.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from emulator.api import restjson
from emulator.api.auth import JSON
from emulator.api.gateway import Gateway
from emulator.api.responses import json_error, new_request_id
from emulator.errors import RequestEntityTooLarge

_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")


class InvocationFastPath:
    def __init__(self, app: Any, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway
        self.max_body = gateway.max_body_bytes
        self.service = gateway.services.get("sagemaker-runtime")
        self.headers: dict[bytes, str] = {}
        if self.service is not None:
            shape = self.service.model.operation_model("InvokeEndpoint").input_shape
            self.headers = {m.serialization["name"].lower().encode("latin-1"): name
                            for name, m in shape.members.items() if m.serialization.get("location") == "header"}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        found = None
        service = self.service
        if scope["type"] == "http" and scope["method"] == "POST" and service is not None:
            found = _PATH.match(scope["path"])
        if found is None or service is None:
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        try:
            body = await self._body(receive)
            self.gateway.authenticate(JSON, scope, body)
            params: dict[str, Any] = {"EndpointName": found.group(1)}
            for name, value in scope["headers"]:
                member = self.headers.get(name)
                if member is not None:
                    params[member] = value.decode("latin-1")
            params["Body"] = body
            op, result = await service.acall("InvokeEndpoint", params)
            status, headers, body = restjson.render_response(op, result)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an AWS error
            await json_error(exc, request_id, content_type="application/json")(scope, receive, send)
            return
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        raw += [(b"x-amzn-requestid", request_id.encode()), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _body(self, receive: Any) -> bytes:
        return await read_body(receive, self.max_body)


async def read_body(receive: Any, max_body: int, disconnected: Callable[[], Exception] | None = None) -> bytes:
    """An ASGI request's body, refused past ``max_body`` bytes. A disconnect ends it with what arrived,
    or raises what ``disconnected`` makes when given."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if disconnected is not None:
                raise disconnected()
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > max_body:
                raise RequestEntityTooLarge(f"The request body exceeds the limit of {max_body} bytes.")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
