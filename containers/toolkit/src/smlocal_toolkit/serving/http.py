"""The plain WSGI layer of the model server: routes (/ping, /invocations, /execution-parameters),
request-size limit, Response objects and the JSON error body of sagemaker-containers."""

from __future__ import annotations

import http
import json
import logging
import traceback

logger = logging.getLogger("smlocal.serving")

READ_CHUNK = 1 << 20


class Response:
    """A response (Flask-like enough for user handlers: ``response``, ``status``, ``mimetype``, ``headers``)."""

    default_mimetype = "application/json"

    def __init__(self, response=None, status=200, headers=None, mimetype=None, content_type=None, accept=None):
        if response is None:
            body = b""
        elif isinstance(response, str):
            body = response.encode("utf-8")
        elif isinstance(response, (bytes, bytearray, memoryview)):
            body = bytes(response)
        else:  # an iterable of chunks, as WSGI allows
            body = b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in response)
        self.data = body
        self.status_code = int(status)
        self.headers = dict(headers or {})
        self.content_type = content_type or mimetype or self.headers.pop("Content-Type", None) or self.default_mimetype

    @property
    def mimetype(self) -> str:
        return self.content_type.split(";", 1)[0].strip()

    def get_data(self, as_text: bool = False):
        return self.data.decode("utf-8") if as_text else self.data


def error_response(error: BaseException, status: int, stack: str | None = None) -> Response:
    """sagemaker-containers' error body: ``{"error", "error-message", "stack-trace"}``."""
    body = {"error": type(error).__name__, "error-message": str(error),
            "stack-trace": stack if stack is not None else traceback.format_exc()}
    return Response(json.dumps(body), status=status, mimetype="application/json")


class Request:
    """What a service needs from one HTTP request."""

    def __init__(self, environ, body: bytes):
        self.environ = environ
        self.body = body

    def header(self, name: str) -> str | None:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            return self.environ.get(key) or None
        return self.environ.get("HTTP_" + key) or None


def _read_body(environ, limit: int | None) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` bytes."""
    stream = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if length.isdigit():
        size = int(length)
        if limit is not None and size > limit:
            return None
        return stream.read(size) if size else b""
    chunks, total = [], 0
    while True:
        chunk = stream.read(READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if limit is not None and total > limit:
            return None
        chunks.append(chunk)


def _status_line(code: int) -> str:
    try:
        return f"{code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Unknown"


class App:
    """WSGI application over a service with ``ping()``, ``invocations(request)`` and
    ``execution_parameters()`` (None = route absent)."""

    def __init__(self, service, max_body: int | None, too_large_body: str = "Request Entity Too Large"):
        self.service = service
        self.max_body = max_body
        self.too_large_body = too_large_body

    def route(self, environ) -> Response:
        path, method = environ.get("PATH_INFO") or "/", environ.get("REQUEST_METHOD", "GET")
        if path == "/ping":
            if method not in ("GET", "HEAD"):
                return Response(status=405)
            return self.service.ping()
        if path == "/invocations":
            if method != "POST":
                return Response(status=405)
            body = _read_body(environ, self.max_body)
            if body is None:
                return Response(self.too_large_body, status=413, mimetype="text/plain")
            return self.service.invocations(Request(environ, body))
        if path == "/execution-parameters" and method == "GET":
            response = self.service.execution_parameters()
            if response is not None:
                return response
        return Response("{}", status=404, mimetype="application/json")  # nginx's answer for other paths

    def __call__(self, environ, start_response):
        try:
            response = self.route(environ)
        except Exception as error:
            logger.exception("Exception on %s", environ.get("PATH_INFO"))
            response = error_response(error, 500)
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.data)))]
        headers += [(k, str(v)) for k, v in response.headers.items() if k.lower() not in ("content-length",
                                                                                          "content-type")]
        start_response(_status_line(response.status_code), headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [response.data]
