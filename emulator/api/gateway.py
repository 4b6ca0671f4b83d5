"""One URL, several AWS services: routing by header, path, form action and SigV4 scope.

| request                                                    | service                      |
|------------------------------------------------------------|------------------------------|
| ``X-Amz-Target: SageMaker.<Op>``                           | sagemaker (JSON 1.1)         |
| ``X-Amz-Target: Logs_20140328.<Op>``                       | logs (JSON 1.1)              |
| ``X-Amz-Target: GraniteServiceVersion20100801.<Op>``       | cloudwatch (JSON 1.0)        |
| ``POST /endpoints/{name}/invocations`` (and async, stream) | sagemaker-runtime (rest-json) |
| form ``Action=...`` with Version 2011-06-15 / scope sts    | sts (query, XML)             |
| form ``Action=...`` with Version 2010-05-08 / scope iam    | iam (query, XML)             |
| form ``Action=...`` with Version 2010-08-01 / monitoring   | cloudwatch (query, XML)      |
| anything else                                              | S3, proxied to the S3 server |
"""

from __future__ import annotations

import json
import logging
import re
import urllib.parse
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from emulator import caller
from emulator.api import query, restjson
from emulator.api.auth import JSON, QUERY, S3, Authenticator
from emulator.api.dispatch import Service
from emulator.api.responses import JSON_10, JSON_11, json_error, json_result, json_text, new_request_id, xml_error
from emulator.api.s3proxy import S3Proxy
from emulator.api.serialize import shape_output
from emulator.errors import (
    RequestEntityTooLarge,
    SerializationException,
    ServiceError,
    UnknownOperationException,
)
from emulator.handler_spec import Stored

log = logging.getLogger(__name__)

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_JSON_TARGETS = {"SageMaker": "sagemaker", "Logs_20140328": "logs", "GraniteServiceVersion20100801": "cloudwatch"}
_JSON_10 = {"cloudwatch"}                 # services whose JSON protocol is 1.0 (the rest are 1.1)
_SCOPES = {"sts": "sts", "iam": "iam", "monitoring": "cloudwatch"}   # SigV4 signing name -> service
_REST_JSON = "application/json"
_ANSWERS_KEPT = 512   # Describe answers kept by (operation, stored record text)


@dataclass
class Gateway:
    services: dict[str, Service]          # by botocore service name
    max_body_bytes: int
    s3: S3Proxy | None = None
    auth: Authenticator | None = None     # None: SMLOCAL_AUTH=off, every request is let through
    _answers: dict[tuple[str, str], str] = field(default_factory=dict, repr=False)   # see _json_text

    def authenticate(self, protocol: str, scope: MutableMapping[str, Any], body: bytes | None) -> None:
        """Raise AWS's error unless the request is signed with smlocal's keys (see ``api/auth.py``)."""
        if self.auth is not None:
            query_string = scope.get("query_string", b"").decode("latin-1")
            headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
            self.auth.check(protocol, scope["method"], raw_path(scope), query_string, headers, body)

    async def handle(self, request: Request) -> Response:
        request_id = new_request_id()
        target = request.headers.get("x-amz-target")
        if target:
            name, operation = self.json_service(target)
            return await self._json(name, operation, request, request_id)
        runtime = self.services.get("sagemaker-runtime")
        if runtime and request.url.path.startswith("/endpoints/") and \
                restjson.path_matches_any(runtime.model, request.url.path):
            return await self._rest_json(runtime, request, request_id)
        if request.url.path == "/" and request.method in ("POST", "GET"):
            try:
                form, body = await self._form(request)
            except RequestEntityTooLarge as exc:
                return xml_error(exc, request_id, query.NAMESPACES["sts"])
            if form is not None and "Action" in form:
                return await self._query(form, body, request, request_id)
            if request.method == "POST" and _is_form(request):
                # the body is read (no S3 request is a form POST to "/"): answer as a query service would
                return xml_error(ServiceError(MISSING_ACTION, code="MissingAction"), request_id,
                                 query.NAMESPACES["sts"])
        try:
            self.authenticate(S3, request.scope, None)
        except ServiceError as exc:
            return s3_error(exc, request_id, request.method)
        if self.s3 is not None:
            return await self.s3.forward(request)
        return Response(_s3_unavailable(request_id), status_code=400, media_type="application/xml",
                        headers={"x-amzn-RequestId": request_id})

    # --- bodies ----------------------------------------------------------------------------------
    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise RequestEntityTooLarge(
                f"The request body is {declared} bytes; the limit is {self.max_body_bytes} bytes.")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise RequestEntityTooLarge(
                        f"The request body exceeds the limit of {self.max_body_bytes} bytes.")
                chunks.append(chunk)
        except ClientDisconnect:          # gone, or cut off by api/limits.py for stalling: nobody to answer
            raise ServiceError("Your socket connection to the server was not read from or written to within "
                               "the timeout period.", code="RequestTimeout", status=400) from None
        return b"".join(chunks)

    async def _form(self, request: Request) -> tuple[dict[str, str] | None, bytes]:
        params = dict(urllib.parse.parse_qsl(request.url.query, keep_blank_values=True))
        body = b""
        if request.method == "POST":
            if not _is_form(request):
                return params or None, body
            body = await self._body(request)
            try:
                params.update(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True,
                                                     strict_parsing=False))
            except UnicodeDecodeError:
                return None, body
        return params, body

    # --- protocols ---------------------------------------------------------------------------------
    async def _json(self, name: str | None, operation: str, request: Request, request_id: str) -> Response:
        return await self.json_call(name, operation, request.headers.get("x-amz-target"), lambda: self._body(request),
                                    request.scope, request.headers.get("user-agent"), request_id)

    async def json_call(self, name: str | None, operation: str, target: str | None,
                        read_body: Callable[[], Awaitable[bytes]], scope: MutableMapping[str, Any],
                        user_agent: str | None, request_id: str) -> Response:
        """A JSON-protocol call (``X-Amz-Target``), from FastAPI's route or the ASGI-level fast path
        (``api/jsonpath.py``): ``read_body`` reads the body within ``max_body_bytes``."""
        try:
            body = await read_body()
            self.authenticate(JSON, scope, body)
            service = self.services.get(name or "")
            if service is None:
                raise UnknownOperationException(
                    f"X-Amz-Target '{target}' names no service smlocal "
                    "serves; expected SageMaker.<Operation> or Logs_20140328.<Operation>.")
            try:
                params = json.loads(body) if body.strip() else {}
            except (ValueError, UnicodeDecodeError) as exc:
                raise SerializationException(f"The request body is not valid JSON: {exc}") from None
            except RecursionError:
                raise SerializationException("The request body is nested too deeply.") from None
            with caller.calling_as(user_agent):  # worker threads inherit the hint
                op, result = await service.acall(operation, params)
            return json_result(self._json_text(op, result), request_id,
                               JSON_10 if service.name in _JSON_10 else JSON_11)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an AWS error
            return json_error(exc, request_id, JSON_10 if name in _JSON_10 else JSON_11)

    def _json_text(self, op: OperationModel, result: dict[str, Any]) -> str:
        """The response body; built once per (operation, stored text) for a record returned as stored."""
        if type(result) is not Stored:
            return json_text(shape_output(op.output_shape, result))
        key = (op.name, result.text)
        text = self._answers.get(key)
        if text is None:
            if len(self._answers) >= _ANSWERS_KEPT:
                self._answers.pop(next(iter(self._answers)))
            text = self._answers[key] = json_text(shape_output(op.output_shape, result))
        return text

    def json_service(self, target: str) -> tuple[str | None, str]:
        """(service name or None, operation) of an ``X-Amz-Target`` value."""
        prefix, _, operation = target.partition(".")
        return _JSON_TARGETS.get(prefix), operation

    async def _rest_json(self, service: Service, request: Request, request_id: str) -> Response:
        try:
            body = await self._body(request)
            self.authenticate(JSON, request.scope, body)
            found = restjson.match(service.model, request.method, request.url.path)
            if found is None:
                raise UnknownOperationException(
                    f"{request.method} {request.url.path} is not a {service.model.service_id} operation.")
            op, uri = found
            service.operation(op.name)
            headers = {k.lower(): v for k, v in request.headers.items()}
            params = restjson.parse_request(op, uri, headers, body)
            op, result = await service.acall(op.name, params)
            status, out_headers, out_body = restjson.render_response(op, result)
            out_headers["x-amzn-RequestId"] = request_id
            return Response(out_body, status_code=status, headers=out_headers)
        except Exception as exc:  # noqa: BLE001
            return json_error(exc, request_id, content_type=_REST_JSON)

    async def _query(self, form: dict[str, str], body: bytes, request: Request, request_id: str) -> Response:
        name = _query_service(form, request.headers.get("authorization", ""))
        namespace = query.NAMESPACES.get(name or "", query.NAMESPACES["sts"])
        try:
            self.authenticate(QUERY, request.scope, body)
            service = self.services.get(name or "")
            if service is None:
                raise UnknownOperationException(
                    f"Action {form.get('Action')} (Version {form.get('Version', 'missing')}) belongs to "
                    "no service smlocal serves; it serves STS and IAM in the query protocol.")
            operation, _ = service.operation(form["Action"])
            params = query.parse_params(operation.input_shape, form)
            op, result = await run_in_threadpool(service.call, form["Action"], params)
            answer = query.xml_result(service.name, op, result, request_id)
            return Response(answer, media_type="text/xml", headers={"x-amzn-RequestId": request_id})
        except UnknownOperationException as exc:
            return xml_error(ServiceError(exc.message, code="InvalidAction"), request_id, namespace)
        except Exception as exc:  # noqa: BLE001
            return xml_error(exc, request_id, namespace)


MISSING_ACTION = ("The request has no Action parameter: form-encoded POSTs to / are query-protocol calls (STS, IAM, "
                  "CloudWatch); S3 requests name a bucket in the path.")


def _is_form(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
def raw_path(scope: MutableMapping[str, Any]) -> str:
    """The path as it came on the wire (percent-encoded), which is what the client signed."""
    raw = scope.get("raw_path")
    return raw.decode("latin-1").partition("?")[0] if raw else urllib.parse.quote(scope["path"])


def s3_error(exc: ServiceError, request_id: str, method: str) -> Response:
    """An error as S3 answers it (``<Error>``; no body for HEAD)."""
    from xml.sax.saxutils import escape

    body = ('<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{escape(exc.code)}</Code><Message>{escape(exc.message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>")
    return Response(b"" if method == "HEAD" else body, status_code=exc.status, media_type="application/xml",
                    headers={"x-amz-request-id": request_id, "x-amzn-RequestId": request_id})


def _query_service(form: dict[str, str], authorization: str) -> str | None:
    scope = _SCOPE.search(authorization)
    if scope and scope.group(2) in _SCOPES:
        return _SCOPES[scope.group(2)]
    return query.VERSIONS.get(form.get("Version", ""))


def _s3_unavailable(request_id: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidRequest</Code><Message>'
            "This smlocal gateway has no S3 server configured; point S3 clients at the S3 endpoint "
            "that `smlocal env` prints (AWS_ENDPOINT_URL_S3).</Message>"
            f"<RequestId>{request_id}</RequestId></Error>")
