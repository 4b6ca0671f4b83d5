"""The wire itself: request ids, content types, hostile bodies, recorded SDK traffic."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import httpx
import pytest
import rawclient as raw
from botocore.parsers import create_parser

from emulator.api.service_models import service_model

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "sdk-traces"


def test_success_and_error_carry_request_ids(gateway):
    ok = raw.post(gateway.url, "SageMaker.ListModels", b"{}")
    bad = raw.post(gateway.url, "SageMaker.DescribeModel", b"{}")
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/x-amz-json-1.1"
    assert ok.headers["x-amzn-requestid"] and bad.headers["x-amzn-requestid"] != ok.headers["x-amzn-requestid"]
    assert bad.headers["x-amzn-errortype"] == "ValidationException"
    assert json.loads(bad.content)["__type"] == "ValidationException"


def test_empty_body_counts_as_empty_object(gateway):
    assert raw.post(gateway.url, "SageMaker.ListModels", b"").status_code == 200


def test_runtime_error_code_travels_in_the_header(gateway):
    reply = raw.request("POST", gateway.url + "/endpoints/nope/invocations", "sagemaker", b"1",
                        {"Content-Type": "text/csv"})
    assert reply.status_code == 400 and reply.headers["x-amzn-errortype"] == "ValidationError"
    assert reply.json()["Message"] == "Endpoint nope of account 123456789012 not found."


def test_runtime_async_and_stream_paths_answer_not_found_too(runtime):
    with pytest.raises(runtime.exceptions.ValidationError, match="Endpoint nope of account"):
        runtime.invoke_endpoint_async(EndpointName="nope", InputLocation="s3://b/in.json")
    with pytest.raises(runtime.exceptions.ValidationError, match="Endpoint nope of account"):
        runtime.invoke_endpoint_with_response_stream(EndpointName="nope", Body=b"{}")


_MEMBERS = ["ModelName", "Tags", "MaxResults", "x", "PrimaryContainer", "Containers", "ProductionVariants",
            "NextToken", "logGroupName", "limit"]


def _random_value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 3 else 5)
    return [lambda: None, lambda: rng.randint(-2**70, 2**70), lambda: rng.random() * 1e308,
            lambda: "".join(chr(rng.randrange(0x20, 0x2FFF)) for _ in range(rng.randrange(80))),
            lambda: rng.choice([True, False, "", "\x00", "../../etc/passwd", "ml.m5.large"]),
            lambda: [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))],
            lambda: {rng.choice(_MEMBERS): _random_value(rng, depth + 1) for _ in range(rng.randrange(5))},
            lambda: {"Key": _random_value(rng, depth + 1), "Value": _random_value(rng, depth + 1)}][kind]()


@pytest.mark.parametrize("service, prefix", [("sagemaker", "SageMaker"), ("logs", "Logs_20140328")])
def test_no_body_however_malformed_gets_a_5xx(gateway, service, prefix):
    rng = random.Random(20261126)
    operations = service_model(service).operation_names
    bodies = [b"", b"{", b"null", b"[]", b"\xff\xfe", b'{"a":' * 3000, b"1e999999", b'"str"', b"{}" * 100]
    for i in range(2500):
        operation = operations[i % len(operations)]
        body = bodies[i % len(bodies)] if i % 7 == 0 else json.dumps(_random_value(rng)).encode()
        reply = raw.post(gateway.url, f"{prefix}.{operation}", body)
        assert reply.status_code < 500, (operation, body[:200], reply.text)
        assert "__type" in reply.json() or reply.status_code == 200


def test_hostile_runtime_and_query_requests_get_4xx(gateway):
    for path in ["/endpoints/%2e%2e%2f%2e%2e/invocations", "/endpoints/a/invocations?x=%00",
                 "/endpoints/" + "a" * 5000 + "/invocations"]:
        assert raw.request("POST", gateway.url + path, "sagemaker", b"x").status_code < 500
        assert httpx.post(gateway.url + path, content=b"x").status_code < 500       # unsigned
    for form in [b"Action=", b"Action=GetRole", b"Action=GetRole&RoleName=" + b"x" * 100000,
                 b"Action=SimulatePrincipalPolicy&ActionNames.member.1=a&MaxItems=notanumber"]:
        reply = raw.post_form(gateway.url, form, query="Version=2010-05-08")
        assert 400 <= reply.status_code < 500 and reply.text.startswith("<ErrorResponse"), (form[:60], reply.text)


def _traces():
    for name in ("calls.jsonl.gz", "calls_delay.jsonl.gz"):
        with gzip.open(TRACES / name, "rt") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("service") in ("sagemaker", "logs") and record["path"] == "/":
                    yield record


def test_recorded_sdk_requests_are_understood(gateway):
    """Replays what SDK 2.257, boto3 and the AWS CLI really sent; served operations must accept them."""
    served = {"sagemaker": gateway.emulator.services["sagemaker"].handlers,
              "logs": gateway.emulator.services["logs"].handlers}
    replayed = 0
    for record in _traces():
        target = record["headers"]["x-amz-target"]
        operation = target.split(".", 1)[1]
        reply = raw.post(gateway.url, target, json.dumps(record["body"]).encode())
        assert reply.status_code < 500, (target, reply.text)
        model = service_model(record["service"]).operation_model(operation)
        parsed = create_parser("json").parse(
            {"status_code": reply.status_code, "headers": dict(reply.headers), "body": reply.content},
            model.output_shape)
        if operation in served[record["service"]]:
            error = parsed.get("Error", {})
            assert "validation error" not in error.get("Message", ""), (target, error)
            assert error.get("Code") not in ("SerializationException", "UnknownOperationException"), (target, error)
        else:
            assert parsed["Error"]["Code"] == "UnknownOperationException"
        replayed += 1
    assert replayed > 60
