"""Browsers and DNS rebinding: the checks every request to the AWS APIs passes before anything else.

- **Host**: a request must name, in its ``Host`` header, an address smlocal serves (loopback names
  and addresses, the bind address, ``SMLOCAL_HOSTS``; the port is not checked). A page on another
  site that rebinds its own name to 127.0.0.1 sends its own name and is refused.
- **Origin**: browsers name the page that makes a cross-origin request; SDKs and the CLI never send
  ``Origin``. A request from an origin not in ``SMLOCAL_CORS_ORIGINS`` (none by default) is refused
  before it is routed, whatever its method or signature.
- **CORS preflights** (``OPTIONS``) are answered here, never forwarded to the S3 server (SeaweedFS
  would allow every origin): 200 with CORS headers for an allowed origin, 403 otherwise. Responses
  to allowed origins carry ``Access-Control-Allow-Origin``; no other response does (the S3 proxy
  drops the S3 server's own CORS headers).

The console (``/_smlocal``) is not an AWS API and keeps its own Host, token and same-origin rules
(``emulator/console/security.py``); it passes through untouched.
"""

from __future__ import annotations

from typing import Any

from emulator.api.gateway import s3_error
from emulator.api.responses import JSON_10, JSON_11, json_error, new_request_id, xml_error
from emulator.errors import ServiceError

CONSOLE_PREFIX = "/_smlocal"
_FORM = b"application/x-www-form-urlencoded"
_CORS_REFUSED = ("CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, "
                 "request method / Access-Control-Request-Method or Access-Control-Request-Headers are not "
                 "whitelisted by the resource's CORS spec.")
_EXPOSED = ("x-amzn-requestid, x-amzn-errortype, x-amz-request-id, x-amz-id-2, etag, x-amz-version-id, "
            "x-amz-server-side-encryption, x-amzn-invoked-production-variant, x-amzn-sagemaker-custom-attributes, "
            "content-length, content-type")
_METHODS = "GET, PUT, POST, DELETE, HEAD"


def host_name(host: str) -> str:
    """The name part of a Host header, lower case (IPv6 literals keep their brackets)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if host.count(":") == 1 else host


class RequestGuard:
    """ASGI middleware in front of the whole gateway (see the module docstring)."""

    def __init__(self, app: Any, names: set[str], cors_origins: tuple[str, ...] = (),
                 max_s3_body: int = 5 * 1024 ** 3) -> None:
        self.app = app
        self.max_s3_body = max_s3_body
        self.names = frozenset(names)
        self.origins = frozenset(o.strip().rstrip("/").lower() for o in cors_origins)
        # api/invoke_proxy.py's InvocationProxy when the composition root installs one: uvicorn's protocol
        # (api/limits.py) finds it here and serves plain invocations with it, after the same Host/Origin checks
        self.raw_invocations: object | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] == CONSOLE_PREFIX or \
                scope["path"].startswith(CONSOLE_PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        host, origin = _header(scope, b"host") or None, _header(scope, b"origin") or None
        if host is None or host_name(host) not in self.names:
            await self._refuse(scope, receive, send, ServiceError(
                f"smlocal answers only to the addresses it serves ({', '.join(sorted(self.names))}); the Host "
                f"{host!r} is refused (DNS rebinding protection). If you reach smlocal under another name, add it "
                "to SMLOCAL_HOSTS.", code="AccessDenied", status=403))
            return
        allowed = origin is not None and origin.rstrip("/").lower() in self.origins
        if scope["method"] == "OPTIONS":
            await self._preflight(scope, receive, send, origin, allowed)
            return
        if origin is not None and not allowed:
            await self._refuse(scope, receive, send, ServiceError(
                f"Requests from web pages are refused: the origin {origin} may not call smlocal's APIs (no "
                "cross-origin calls are allowed by default; SMLOCAL_CORS_ORIGINS lists the origins that may, "
                "see docs/security.md).", code="AccessDenied", status=403))
            return
        if scope["method"] in ("PUT", "POST") and protocol_of(scope) == "s3":
            declared = _header(scope, b"content-length")
            if declared.isdigit() and int(declared) > self.max_s3_body:
                await self._refuse(scope, receive, send, ServiceError(
                    "Your proposed upload exceeds the maximum allowed size", code="EntityTooLarge", status=400))
                return
            receive = _capped(receive, self.max_s3_body)
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": _cors(message.get("headers", []), origin or "")}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: dict, receive: Any, send: Any, origin: str | None, allowed: bool) -> None:
        if origin is None:
            await self._refuse(scope, receive, send, ServiceError(
                "Insufficient information. Origin request header needed.", code="BadRequest", status=400))
            return
        if not allowed:
            await self._refuse(scope, receive, send, ServiceError(_CORS_REFUSED, code="AccessForbidden", status=403))
            return
        requested = ""
        for name, value in scope["headers"]:
            if name == b"access-control-request-headers":
                requested = value.decode("latin-1")
        headers = _cors([(b"content-length", b"0")], origin) + [
            (b"access-control-allow-methods", _METHODS.encode()),
            (b"access-control-allow-headers", requested.encode("latin-1")), (b"access-control-max-age", b"600")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    async def _refuse(self, scope: dict, receive: Any, send: Any, error: ServiceError) -> None:
        request_id = new_request_id()
        protocol = protocol_of(scope)
        if protocol == "json":
            target = _header(scope, b"x-amz-target")
            response = json_error(error, request_id, JSON_10 if target.startswith("GraniteService") else JSON_11)
        elif protocol == "rest-json":
            response = json_error(error, request_id, content_type="application/json")
        elif protocol == "query":
            response = xml_error(error, request_id, "https://sts.amazonaws.com/doc/2011-06-15/")
        else:
            response = s3_error(error, request_id, scope["method"])
        await response(scope, receive, send)


def protocol_of(scope: dict) -> str:
    """How the refused client expects its error: by X-Amz-Target, the runtime path, a form POST, else S3."""
    if _header(scope, b"x-amz-target"):
        return "json"
    if scope["path"].startswith("/endpoints/"):
        return "rest-json"
    if scope["path"] == "/" and (scope["method"] == "POST" and _header(scope, b"content-type").encode().startswith(
            _FORM) or "Action=" in scope.get("query_string", b"").decode("latin-1")):
        return "query"
    return "s3"


def _capped(receive: Any, limit: int) -> Any:
    """``receive`` that reports a disconnect once more than ``limit`` body bytes arrived (chunked uploads)."""
    seen = 0

    async def wrapped() -> dict:
        nonlocal seen
        message: dict = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                return {"type": "http.disconnect"}
        return message

    return wrapped


def _header(scope: dict, wanted: bytes) -> str:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return ""


def _cors(headers: list, origin: str) -> list:
    kept = [(k, v) for k, v in headers if not k.lower().startswith(b"access-control-") and k.lower() != b"vary"]
    return kept + [(b"access-control-allow-origin", origin.encode("latin-1")),
                   (b"access-control-expose-headers", _EXPOSED.encode()), (b"vary", b"Origin")]
