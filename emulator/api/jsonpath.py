"""The control plane's hot path at the ASGI level: JSON-protocol calls (``X-Amz-Target: SageMaker.<Op>``,
``Logs_20140328.<Op>``, ...) are served without FastAPI's routing, dependency solving, middleware
stack and Request object; every other request goes to the application unchanged.

The call itself is the gateway's (``Gateway.json_call``: the same body limit, signature check,
validation, handler, output shaping and error serialization) and the answer the same ``Response``
object, so the bytes on the wire are the ones the FastAPI route sends. A profile of
DescribeTrainingJob put FastAPI's share of the gateway's CPU at about a third (``bench/NOTES.md``).
"""

from __future__ import annotations

from typing import Any

from emulator.api.fastpath import read_body as read_asgi_body
from emulator.api.gateway import Gateway
from emulator.api.responses import new_request_id
from emulator.errors import RequestEntityTooLarge, ServiceError

_CONSOLE = "/_smlocal"   # the health route and the console: FastAPI's


class JsonTargetPath:
    def __init__(self, app: Any, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway
        self.max_body = gateway.max_body_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].startswith(_CONSOLE):
            await self.app(scope, receive, send)
            return
        target = user_agent = length = None
        for name, value in scope["headers"]:      # the first of each, as Starlette's Headers.get
            if name == b"x-amz-target":
                if target is None:
                    target = value.decode("latin-1")
            elif name == b"user-agent":
                if user_agent is None:
                    user_agent = value.decode("latin-1")
            elif name == b"content-length" and length is None:
                length = value.decode("latin-1")
        if not target:
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        service, operation = self.gateway.json_service(target)

        async def read_body() -> bytes:
            return await self._body(length, receive)

        response = await self.gateway.json_call(service, operation, target, read_body, scope, user_agent,
                                                request_id)
        await response(scope, receive, send)

    async def _body(self, declared: str | None, receive: Any) -> bytes:
        """The body as ``Gateway._body`` reads it through Starlette's ``Request.stream``."""
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise RequestEntityTooLarge(f"The request body is {declared} bytes; the limit is {self.max_body} bytes.")
        # a disconnect: gone, or cut off by api/limits.py for stalling
        return await read_asgi_body(receive, self.max_body, _timed_out)


def _timed_out() -> ServiceError:
    return ServiceError("Your socket connection to the server was not read from or written to within the "
                        "timeout period.", code="RequestTimeout", status=400)
