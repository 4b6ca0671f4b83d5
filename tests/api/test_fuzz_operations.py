"""No 5xx, whatever a client sends (issue 18, finding 7): every operation the gateway serves (read from
its dispatch registry, so a new one is fuzzed without editing this file) gets requests built from
its botocore input shape, shaped right (required members, types, enums, lengths, ranges, patterns;
optional members present or not) and shaped wrong (a member missing, of the wrong type, out of
range, unknown), plus raw HTTP garbage at the socket. The gateway runs on the in-memory container
runtime with a real S3 server, so creates really start jobs and endpoints (which fail fast: the
images do not exist)."""

from __future__ import annotations

import base64
import datetime
import json
import random
import socket
import urllib.parse
from functools import cache
from typing import Any

import httpx
import pytest
import rawclient as raw
import regex
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.model import OperationModel, Shape
from botocore.serialize import create_serializer
from fake_runtime import FakeRuntime
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway

from emulator.api.service_models import service_model
from emulator.config import S3Settings

VARIANTS = 6             # shaped-right requests per operation (half as many shaped wrong)
MAX_DEPTH = 7
POOL = [
    "a", "abc", "fuzz-name-1", "Fuzz1", "ml.m5.large", "ml.t2.medium", "File", "Line", "text/csv",
    "arn:aws:iam::123456789012:role/SageMakerRole", "arn:aws:sagemaker:us-east-1:123456789012:model/abc",
    "arn:aws:sagemaker:us-east-1:123456789012:training-job/fuzz-name-1", "s3://fuzz-bucket/prefix/key",
    "s3://fuzz-bucket/", "123456789012.dkr.ecr.us-east-1.amazonaws.com/img:1", "smlocal/sklearn:1.2-1",
    "/opt/ml/processing/input", "/opt/ml/processing/output", "/opt/ml/checkpoints", "python3", "train.py",
    "loss=([0-9.]+)", "us-east-1", "https://example.com", "key", "value", "1", "0.5", "x" * 64,
    "/aws/sagemaker/TrainingJobs", "fuzz-name-1/algo-1", "%ERROR%", "ERROR ?WARN", "AllTraffic", "Model",
    "SageMaker", "AWS/SageMaker", "CPUUtilization", "Average", "Seconds", "Ascending", "Name", "*",
]
BAD_STRINGS = ["", "x" * 5000, "\x00", "../../etc/passwd", "\u2028\ud7ff", "%00", " ", "a" * 64 + "!"]


@cache
def _pool_for(pattern: str | None, low: int, high: int) -> tuple[str, ...]:
    try:
        compiled = regex.compile(pattern) if pattern else None
    except regex.error:
        compiled = None
    return tuple(s for s in POOL if low <= len(s) <= high and (compiled is None or compiled.fullmatch(s)))


class Maker:
    """Values for a botocore shape: ``right`` respects the shape, otherwise one thing is wrong."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def value(self, shape: Shape, right: bool, depth: int = 0) -> Any:
        kind = shape.type_name
        if not right and depth and self.rng.random() < 0.35:
            return self.rng.choice([None, 12, "text", [], {}, True, -1, 1e308, {"Unknown": 1}])
        maker = getattr(self, "_" + kind, None)
        return maker(shape, right, depth) if maker else "x"

    def _structure(self, shape: Shape, right: bool, depth: int) -> dict[str, Any]:
        required = set(shape.required_members)
        out = {}
        wrong = None if right else self.rng.choice(list(shape.members) or [None])
        for name, member in shape.members.items():
            if name not in required and (depth >= MAX_DEPTH or self.rng.random() < 0.5):
                continue
            out[name] = self.value(member, right=name != wrong, depth=depth + 1)
        if not right and required and self.rng.random() < 0.3:
            out.pop(self.rng.choice(sorted(required)), None)
        if not right and self.rng.random() < 0.2:
            out["NotAMember"] = "x"
        return out

    def _list(self, shape: Shape, right: bool, depth: int) -> list[Any]:
        low, high = shape.metadata.get("min", 0), min(shape.metadata.get("max", 3), 3)
        if not right and self.rng.random() < 0.3:
            return [self.value(shape.member, True, depth + 1) for _ in range(shape.metadata.get("max", 3) + 1)]
        count = self.rng.randint(low, max(low, high)) if depth < MAX_DEPTH else low
        return [self.value(shape.member, right, depth + 1) for _ in range(count)]

    def _map(self, shape: Shape, right: bool, depth: int) -> dict[str, Any]:
        return {str(self.value(shape.key, right, depth + 1)): self.value(shape.value, right, depth + 1)
                for _ in range(self.rng.randint(0, 2))}

    def _string(self, shape: Shape, right: bool, depth: int) -> str:
        if shape.enum:
            return self.rng.choice(shape.enum) if right else "NotInTheEnum"
        low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 10_000)
        if not right:
            return self.rng.choice(BAD_STRINGS)
        pool = _pool_for(shape.metadata.get("pattern"), low, high)
        return self.rng.choice(pool) if pool else "a" * max(low, 1)

    def _integer(self, shape: Shape, right: bool, depth: int) -> int:
        low, high = shape.metadata.get("min", 0), shape.metadata.get("max", 100)
        if not right:
            return self.rng.choice([low - 1, high + 1, -2**63, 2**70])
        return self.rng.randint(int(low), int(min(high, low + 100)))

    _long = _integer

    def _double(self, shape: Shape, right: bool, depth: int) -> float:
        return self.rng.uniform(0, 10) if right else self.rng.choice([-1e308, 1e308, -0.0])

    _float = _double

    def _boolean(self, shape: Shape, right: bool, depth: int) -> bool | str:
        return self.rng.choice([True, False]) if right else "yes"

    def _timestamp(self, shape: Shape, right: bool, depth: int) -> float | str:
        return 1_700_000_000 + self.rng.random() * 1e6 if right else self.rng.choice(["not a time", 1e20])

    def _blob(self, shape: Shape, right: bool, depth: int) -> str:
        return base64.b64encode(b"fuzz,1\n").decode() if right else "!!not base64!!"


def _requests(service: str, operation: str, seed: int) -> list[dict[str, Any]]:
    shape = service_model(service).operation_model(operation).input_shape
    maker = Maker(random.Random(f"{seed}-{service}-{operation}"))
    if shape is None:
        return [{}]
    return [maker.value(shape, right=i < VARIANTS, depth=0) for i in range(VARIANTS + VARIANTS // 2)]


# --- the gateway ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gw(tmp_path_factory, embedded_s3):
    s3 = S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)
    with live_gateway(tmp_path_factory.mktemp("fuzz"), s3=s3, containers=FakeRuntime({}),
                      stop_grace_seconds=1) as gateway:
        yield gateway


def _served(gw) -> list[tuple[str, str]]:
    return [(name, op) for name, service in sorted(gw.emulator.services.items()) for op in sorted(service.handlers)]


def test_every_served_operation_is_fuzzed(gw):
    served = _served(gw)
    assert {name for name, _ in served} >= {"sagemaker", "sagemaker-runtime", "logs", "cloudwatch", "sts", "iam"}
    assert len(served) > 40


JSON_TARGETS = {"sagemaker": ("SageMaker", raw.JSON_11), "logs": ("Logs_20140328", raw.JSON_11),
                "cloudwatch": ("GraniteServiceVersion20100801", "application/x-amz-json-1.0")}
QUERY_VERSIONS = {"sts": "2011-06-15", "iam": "2010-05-08", "cloudwatch": "2010-08-01"}


def _no_5xx(response: httpx.Response, what: Any) -> None:
    assert response.status_code < 500, (what, response.status_code, response.text[:500])


def test_json_operations_never_answer_5xx(gw):
    accepted = set()
    for name, operation in _served(gw):
        if name not in JSON_TARGETS:
            continue
        prefix, content_type = JSON_TARGETS[name]
        for params in _requests(name, operation, 1):
            body = json.dumps(params).encode()
            response = raw.post(gw.url, f"{prefix}.{operation}", body, content_type=content_type)
            _no_5xx(response, (operation, params))
            if response.status_code == 200 or "validation error" not in response.text:
                accepted.add(operation)          # got past the wire's validation into the handler
    # the shaped-right requests do reach the handlers (or the fuzzing would test the validator only)
    json_ops = [op for name, op in _served(gw) if name in JSON_TARGETS]
    assert len(accepted) >= 0.8 * len(json_ops), sorted(set(json_ops) - accepted)


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> None:
    """A query-protocol form, leniently: lists as .member.N, maps as .entry.N, wrong types as they come."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, list):
        for index, item in enumerate(value, 1):
            _flatten(f"{prefix}.member.{index}", item, out)
    elif value is not None:
        out[prefix] = str(value).lower() if isinstance(value, bool) else str(value)


def test_query_operations_never_answer_5xx(gw):
    for name, operation in _served(gw):
        if name not in QUERY_VERSIONS:
            continue
        model: OperationModel = service_model(name).operation_model(operation)
        for index, params in enumerate(_requests(name, operation, 2)):
            form = {"Action": operation, "Version": QUERY_VERSIONS[name]}
            if index < VARIANTS and isinstance(params, dict):
                try:           # botocore's own serialization when the values allow it
                    serializer = create_serializer("query", include_validation=False)
                    body = serializer.serialize_to_request(_typed(params, model.input_shape), model)["body"]
                    form.update(body)
                except Exception:  # noqa: BLE001 - fall back to the lenient form
                    _flatten("", params, form)
            else:
                _flatten("", params, form)
            _no_5xx(raw.post_form(gw.url, form), (operation, form))


def _typed(value: Any, shape: Shape | None) -> Any:
    """JSON-ready values back into what botocore's serializers take (datetimes, bytes)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _typed(v, shape.members.get(k)) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_typed(v, shape.member) for v in value]
    if shape.type_name == "timestamp" and isinstance(value, float):
        return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if shape.type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value + "==", validate=False)
    return value


def test_runtime_operations_never_answer_5xx(gw):
    serializer = create_serializer("rest-json", include_validation=False)
    for name, operation in _served(gw):
        if name != "sagemaker-runtime":
            continue
        model = service_model(name).operation_model(operation)
        for params in _requests(name, operation, 3):
            try:
                request = serializer.serialize_to_request(_typed(params, model.input_shape), model)
            except Exception:  # noqa: BLE001 - shaped too wrong for botocore: send it by hand
                endpoint = urllib.parse.quote(str((params or {}).get("EndpointName", "x")), safe="")
                request = {"method": "POST", "url_path": f"/endpoints/{endpoint}/invocations",
                           "query_string": {}, "headers": {}, "body": json.dumps(params).encode()}
            body = request["body"] if isinstance(request["body"], bytes) else str(request["body"]).encode()
            url = gw.url + request["url_path"]
            if request["query_string"]:
                url += "?" + urllib.parse.urlencode(request["query_string"])
            try:
                response = httpx.request(request["method"], url, content=body, timeout=30,
                                         headers=_signed(request["method"], url, request["headers"], body))
            except (httpx.LocalProtocolError, UnicodeEncodeError, ValueError):
                continue                 # a header no HTTP client can send (the raw socket test sends those)
            _no_5xx(response, (operation, params))


def _signed(method: str, url: str, headers: dict[str, Any], body: bytes) -> dict[str, str]:
    """Signed with the keys the gateway's S3 settings carry, as the SDK signs (a gateway that checks
    signatures then lets the request through to the operation)."""
    request = AWSRequest(method=method, url=url, headers={k: str(v) for k, v in headers.items()}, data=body)
    SigV4Auth(Credentials(S3_ACCESS, S3_SECRET), "sagemaker", REGION).add_auth(request)
    return dict(request.headers.items())


# --- raw HTTP ---------------------------------------------------------------------------------------------
GARBAGE_PATHS = ["/%00", "/bucket/a%00b", "/bucket/%ff%fe", "//", "/" + "a" * 8000, "/endpoints/%00/invocations",
                 "/endpoints/a/invocations%00", "/..%2f..%2fetc/passwd", "/bucket/key?x=%00", "/?Action=%00",
                 "/?Action=GetCallerIdentity&Version=%00", "/endpoints//invocations", "/console/%00"]
FORMS = [b"", b"a=b", b"Action", b"Action=", b"=x", b"%zz", b"\xff\xfe", b"Action=GetRole&" + b"&" * 5000,
         b"Action=ListMetrics&Version=2010-08-01&Dimensions.member.1.Name=" + b"x" * 3000]
TARGETS = ["", ".", "SageMaker.", "SageMaker.%00", "Logs_20140328.\xe9",
           "GraniteServiceVersion20100801.ListMetrics", "SageMaker.CreateModel.x", "a" * 5000]
BODIES = [b"", b"{", b"[]", b"null", b'{"a":' * 5000, b"\xff", b"{}" * 1000, b'{"ModelName": {"$ref": 1}}']


def test_raw_garbage_never_answers_5xx(gw):
    with httpx.Client(timeout=30) as client:
        for path in GARBAGE_PATHS:
            for method in ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"):
                _no_5xx(client.request(method, gw.url + path, content=b"x"), (method, path))
        for form in FORMS:
            for query in ("", "?Version=2011-06-15", "?Version=2010-05-08", "?Version=2010-08-01"):
                _no_5xx(client.post(gw.url + "/" + query, content=form, headers={
                    "Content-Type": "application/x-www-form-urlencoded"}), form[:80])
        for target in TARGETS:
            for body in BODIES:
                headers = {b"X-Amz-Target": target.encode("latin-1"), b"Content-Type": raw.JSON_11.encode()}
                _no_5xx(client.post(gw.url + "/", content=body, headers=headers), (target[:60], body[:60]))
        for headers in ({"Content-Type": "application/x-amz-json-1.1", "Content-Encoding": "gzip"},
                        {"Content-Type": "\x7f"},
                        {"X-Amz-Target": "SageMaker.ListModels", "Content-Type": "text/plain"},
                        {"Authorization": "AWS4-HMAC-SHA256 Credential=%00/x/y/z/aws4_request"},
                        {"Host": "evil.example"}):
            _no_5xx(client.post(gw.url + "/", content=b"{}", headers=headers), headers)


RAW_REQUESTS = [
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nX-Amz-Target: SageMaker.ListModels\r\n\r\n{}",
    b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Amz-Target: SageMaker.ListModels\r\n\r\nzz\r\n",
    b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",           # a TLS ClientHello on the plain port
    b"POST /endpoints/a/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nX-Bad: \x01\r\n\r\nx",
]


def test_raw_socket_garbage_never_answers_5xx(gw):
    for payload in RAW_REQUESTS:
        with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except (TimeoutError, ConnectionResetError):
                pass
        if answer.startswith(b"HTTP/"):
            status = int(answer.split(b" ", 2)[1])
            assert status < 500, (payload[:60], answer[:300])
