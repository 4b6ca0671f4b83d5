"""The protocol-level path (``api/invoke_proxy.py``: invocations and JSON calls) answers byte for byte as the ASGI path
(``api/fastpath.py``) does: the same request is sent on a fresh connection with the proxy installed and
without it, and the two answers compared (request ids and dates aside). Requests the proxy does not
take (an Origin, escapes in the name, a chunked body) are still answered by the ASGI path."""

from __future__ import annotations

import re
import socket
from typing import Any

import botocore.session
import pytest
from fake_runtime import FakeRuntime, serves
from support import REGION, ROLE, S3_ACCESS, S3_SECRET, live_gateway, wait_for

from emulator.config import S3Settings

NAME = "proxy-ep"


class _Captured(Exception):
    pass


@pytest.fixture(scope="module")
def gw(tmp_path_factory, embedded_s3):
    runtime = FakeRuntime({"fake/serves:1": serves()})
    settings = S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)
    with live_gateway(tmp_path_factory.mktemp("proxy"), s3=settings, containers=runtime,
                      stop_grace_seconds=2) as gateway:
        sm = gateway.client("sagemaker")
        sm.create_model(ModelName=NAME, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "fake/serves:1"})
        sm.create_endpoint_config(EndpointConfigName=NAME, ProductionVariants=[{
            "VariantName": "main", "ModelName": NAME, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
        sm.create_endpoint(EndpointName=NAME, EndpointConfigName=NAME)
        assert wait_for(lambda: sm.describe_endpoint(EndpointName=NAME), "EndpointStatus",
                        {"InService", "Failed"})["EndpointStatus"] == "InService"
        yield gateway


@pytest.fixture
def served(gw):
    """Counts the requests the proxy serves itself."""
    proxy = gw.app.raw_invocations
    calls: list[Any] = []
    original = proxy.serve

    async def counting(protocol, request):
        calls.append(request)
        await original(protocol, request)

    proxy.serve = counting
    yield calls
    del proxy.serve


def signed(gw, secret: str = S3_SECRET, service: str = "sagemaker-runtime", operation: str = "invoke_endpoint",
           **params) -> bytes:
    """The bytes botocore sends for InvokeEndpoint(**params) (or another ``service``'s ``operation``)."""
    client = botocore.session.get_session().create_client(
        service, endpoint_url=gw.url, region_name=REGION, aws_access_key_id=S3_ACCESS,
        aws_secret_access_key=secret)

    def capture(request, **_):
        raise _Captured(request)

    client.meta.events.register("before-send", capture)
    try:
        getattr(client, operation)(**params)
    except _Captured as captured:
        request = captured.args[0]
        path = request.url.split(gw.url, 1)[1]
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{gw.port}"]
        head += [f"{k}: {v.decode() if isinstance(v, bytes) else v}" for k, v in request.headers.items()
                 if k.lower() != "host"]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body
    raise AssertionError("botocore sent nothing")


def exchange(gw, *requests: bytes) -> list[tuple[str, list[tuple[str, str]], bytes]]:
    """Send the requests one after another on one fresh connection; their answers, ids and dates masked."""
    answers = []
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as sock:
        buffer = b""
        for request in requests:
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                buffer += sock.recv(65536)
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            status, *lines = head.decode("latin-1").split("\r\n")
            headers = [(n.lower(), v.strip()) for n, _, v in (line.partition(":") for line in lines)]
            length = int(dict(headers)["content-length"])
            while len(buffer) < length:
                buffer += sock.recv(65536)
            body, buffer = buffer[:length], buffer[length:]
            request_id = dict(headers).get("x-amzn-requestid", "")
            masked = [(n, "<date>" if n == "date" else "<id>" if v == request_id else v) for n, v in headers]
            answers.append((status, masked, body.replace(request_id.encode(), b"<id>")))
    return answers


def both(gw, served, *requests: bytes) -> tuple[list, list]:
    """The answers through the proxy and through the ASGI path (the proxy taken off)."""
    before = len(served)
    proxied = exchange(gw, *requests)
    taken = len(served) - before
    proxy = gw.app.raw_invocations
    gw.app.raw_invocations = None
    try:
        plain = exchange(gw, *requests)
    finally:
        gw.app.raw_invocations = proxy
    assert len(served) - before == taken
    return proxied, plain + [taken]


CASES = {
    "answer": {"Body": b"hello", "ContentType": "text/plain", "Accept": "text/plain", "CustomAttributes": "a=b"},
    "model error": {"Body": b"status:500:broken model"},
    "client error": {"Body": b"status:404:no such thing", "ContentType": "application/json"},
    "no such endpoint": {"Body": b"x", "EndpointName": "nope"},
    "no such variant": {"Body": b"x", "TargetVariant": "other"},
    "invalid header": {"Body": b"x", "TargetVariant": "bad_name!"},
    "target model": {"Body": b"x", "TargetModel": "m.tar.gz"},
    "empty body": {"Body": b""},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_proxy_answers_as_the_asgi_path(gw, served, case) -> None:
    params = {"EndpointName": NAME, **CASES[case]}
    proxied, plain = both(gw, served, signed(gw, **params))
    assert plain.pop() == 1, "the proxy served the request"
    assert proxied == plain
    if case == "answer":
        status, headers, body = proxied[0]
        assert status == "HTTP/1.1 200 OK" and body == b"echo:hello"
        assert ("x-amzn-invoked-production-variant", "main") in headers
        assert ("content-type", "text/plain") in headers


def test_a_bad_signature_is_refused_alike(gw, served) -> None:
    proxied, plain = both(gw, served, signed(gw, secret="wrong", EndpointName=NAME, Body=b"x"))
    assert plain.pop() == 1
    assert proxied == plain and proxied[0][0] == "HTTP/1.1 400 Bad Request"
    assert ("x-amzn-errortype", "InvalidSignatureException") in proxied[0][1]


def test_keep_alive_and_connection_close(gw, served) -> None:
    request = signed(gw, EndpointName=NAME, Body=b"one")
    closing = request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    proxied, plain = both(gw, served, request, request, closing)
    assert plain.pop() == 3
    assert proxied == plain
    assert ("connection", "close") in proxied[2][1] and ("connection", "close") not in proxied[0][1]


def test_requests_the_proxy_does_not_take_are_answered_as_before(gw, served) -> None:
    request = signed(gw, EndpointName=NAME, Body=b"x")
    with_origin = request.replace(b"\r\n\r\n", b"\r\nOrigin: https://evil.example\r\n\r\n", 1)
    head = request.split(b"\r\n\r\n")[0] + b"\r\n"
    chunked = re.sub(rb"Content-Length: \d+\r\n", b"Transfer-Encoding: chunked\r\n", head)
    assert b"Transfer-Encoding" in chunked
    chunked += b"\r\n1\r\nx\r\n0\r\n\r\n"
    other_host = request.replace(f"Host: 127.0.0.1:{gw.port}".encode(), b"Host: rebound.example")
    for sent in (with_origin, chunked, other_host):
        proxied, plain = both(gw, served, sent)
        assert plain.pop() == 0, "the ASGI path answered"
        assert proxied == plain
    assert exchange(gw, with_origin)[0][0] == "HTTP/1.1 403 Forbidden"
    assert exchange(gw, other_host)[0][0] == "HTTP/1.1 403 Forbidden"
    assert exchange(gw, chunked)[0][0] == "HTTP/1.1 200 OK"


JSON_CASES = {
    "describe": ("sagemaker", "describe_endpoint", {"EndpointName": NAME}),
    "list": ("sagemaker", "list_models", {"MaxResults": 5}),
    "not found": ("sagemaker", "describe_model", {"ModelName": "nope"}),
    "already exists": ("sagemaker", "create_model", {"ModelName": NAME, "ExecutionRoleArn": ROLE,
                                                      "PrimaryContainer": {"Image": "fake/serves:1"}}),
    "invalid": ("sagemaker", "describe_model", {"ModelName": "bad_name!"}),
    "logs": ("logs", "describe_log_groups", {"logGroupNamePrefix": "/aws/sagemaker/Endpoints"}),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_json_calls_are_answered_as_by_the_asgi_path(gw, served, case) -> None:
    service, operation, params = JSON_CASES[case]
    proxied, plain = both(gw, served, signed(gw, service=service, operation=operation, **params))
    assert plain.pop() == 1, "the proxy served the call"
    assert proxied == plain
    status, headers, body = proxied[0]
    if case in ("describe", "list", "logs"):
        assert status == "HTTP/1.1 200 OK"
    if case == "describe":
        assert b'"EndpointStatus":"InService"' in body
    if case == "not found":
        assert status == "HTTP/1.1 400 Bad Request" and ("x-amzn-errortype", "ValidationException") in headers


def test_json_calls_the_proxy_does_not_take_or_cannot_read_are_answered_alike(gw, served) -> None:
    request = signed(gw, service="sagemaker", operation="describe_endpoint", EndpointName=NAME)
    unknown_target = request.replace(b"X-Amz-Target: SageMaker.", b"X-Amz-Target: Nope.", 1)
    bad_json = re.sub(rb"\r\n\r\n.*", b"\r\n\r\n{not json", request, flags=re.S)
    bad_json = re.sub(rb"Content-Length: \d+", b"Content-Length: 9", bad_json)
    wrong_secret = signed(gw, secret="wrong", service="sagemaker", operation="list_models")
    for sent, taken, status in ((unknown_target, 1, "400"), (bad_json, 1, "400"), (wrong_secret, 1, "400")):
        proxied, plain = both(gw, served, sent)
        assert plain.pop() == taken
        assert proxied == plain and proxied[0][0].startswith(f"HTTP/1.1 {status}")
    with_origin = request.replace(b"\r\n\r\n", b"\r\nOrigin: https://evil.example\r\n\r\n", 1)
    proxied, plain = both(gw, served, with_origin)
    assert plain.pop() == 0 and proxied == plain and proxied[0][0] == "HTTP/1.1 403 Forbidden"
