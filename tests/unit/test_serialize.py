"""Output shaping and the query/rest-json codecs, checked with botocore's own parsers."""

from __future__ import annotations

import base64
import datetime as dt
import json
import random

from botocore.parsers import create_parser

from emulator.api import query, restjson
from emulator.api.serialize import epoch, shape_output
from emulator.api.service_models import service_model


def op(service: str, name: str):
    return service_model(service).operation_model(name)


def test_shape_output_drops_unknown_and_none_members_and_converts_timestamps():
    record = {"ModelName": "m", "ModelArn": "arn", "CreationTime": 1700000000.5, "Internal": "secret",
              "VpcConfig": None, "PrimaryContainer": {"Image": "i", "Private": 1}}
    out = shape_output(op("sagemaker", "DescribeModel").output_shape, record)
    assert out == {"ModelName": "m", "ModelArn": "arn", "CreationTime": 1700000000.5,
                   "PrimaryContainer": {"Image": "i"}}


def test_a_describe_record_doubles_as_a_list_summary():
    record = {"ModelName": "m", "ModelArn": "arn", "CreationTime": 1.0, "PrimaryContainer": {"Image": "i"}}
    out = shape_output(op("sagemaker", "ListModels").output_shape, {"Models": [record]})
    assert out == {"Models": [{"ModelName": "m", "ModelArn": "arn", "CreationTime": 1.0}]}


def test_botocore_parses_what_we_serialize():
    stamp = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
    body = shape_output(op("sagemaker", "DescribeModel").output_shape,
                        {"ModelName": "m", "ModelArn": "arn", "CreationTime": stamp, "EnableNetworkIsolation": False})
    parsed = create_parser("json").parse(
        {"status_code": 200, "headers": {}, "body": json.dumps(body).encode()},
        op("sagemaker", "DescribeModel").output_shape)
    assert parsed["CreationTime"] == stamp and parsed["EnableNetworkIsolation"] is False


def test_query_params_rebuild_lists_and_maps():
    form = {"Action": "SimulatePrincipalPolicy", "PolicySourceArn": "arn:aws:iam::1:role/r",
            "ActionNames.member.1": "s3:GetObject", "ActionNames.member.2": "s3:PutObject",
            "ContextEntries.member.1.ContextKeyName": "aws:username",
            "ContextEntries.member.1.ContextKeyValues.member.1": "bob",
            "ContextEntries.member.1.ContextKeyType": "string", "MaxItems": "5"}
    params = query.parse_params(op("iam", "SimulatePrincipalPolicy").input_shape, form)
    assert params["ActionNames"] == ["s3:GetObject", "s3:PutObject"]
    assert params["ContextEntries"] == [{"ContextKeyName": "aws:username", "ContextKeyValues": ["bob"],
                                         "ContextKeyType": "string"}]
    assert params["MaxItems"] == 5


def test_query_xml_round_trips_through_botocore():
    operation = op("iam", "GetRole")
    result = {"Role": {"Path": "/", "RoleName": "r", "RoleId": "AROAX", "Arn": "arn:aws:iam::1:role/r",
                       "CreateDate": 1700000000, "MaxSessionDuration": 3600, "Tags": [{"Key": "a", "Value": "<&>"}]}}
    body = query.xml_result("iam", operation, result, "req-1")
    parsed = create_parser("query").parse({"status_code": 200, "headers": {}, "body": body.encode()},
                                          operation.output_shape)
    assert parsed["Role"]["RoleName"] == "r"
    assert parsed["Role"]["Tags"] == [{"Key": "a", "Value": "<&>"}]
    assert parsed["Role"]["CreateDate"] == dt.datetime.fromtimestamp(1700000000, dt.timezone.utc)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_rest_json_routes_and_reads_headers():
    model = service_model("sagemaker-runtime")
    found = restjson.match(model, "POST", "/endpoints/my-ep/invocations")
    assert found is not None and found[0].name == "InvokeEndpoint" and found[1] == {"EndpointName": "my-ep"}
    assert restjson.match(model, "POST", "/endpoints/my-ep/async-invocations")[0].name == "InvokeEndpointAsync"
    assert restjson.match(model, "GET", "/endpoints/my-ep/invocations") is None
    params = restjson.parse_request(found[0], found[1], {"content-type": "text/csv", "accept": "application/json",
                                                         "x-amzn-sagemaker-custom-attributes": "k=v"}, b"1,2")
    assert params == {"EndpointName": "my-ep", "Body": b"1,2", "ContentType": "text/csv",
                      "Accept": "application/json", "CustomAttributes": "k=v"}


def test_rest_json_response_puts_members_in_headers_and_payload():
    operation = op("sagemaker-runtime", "InvokeEndpoint")
    status, headers, body = restjson.render_response(
        operation, {"Body": b"[1]", "ContentType": "application/json", "InvokedProductionVariant": "AllTraffic"})
    assert (status, body) == (200, b"[1]")
    assert headers == {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "AllTraffic"}


def _reference(shape, value):
    """The walk shape_output did before it was compiled per shape (the behaviour it must keep)."""
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            item = value.get(name) if isinstance(value, dict) else None
            if item is None:
                continue
            out[member.serialization.get("name", name)] = _reference(member, item)
        return out
    if kind == "list":
        return [_reference(shape.member, item) for item in value]
    if kind == "map":
        return {key: _reference(shape.value, item) for key, item in value.items()}
    if kind == "timestamp":
        return epoch(value)
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode()
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    return value


def _sample(shape, rng: random.Random, depth: int = 0):
    """A value for ``shape`` with some members missing, some None, some extra, mixed input types."""
    kind = shape.type_name
    if kind == "structure":
        if depth > 5:
            return {}
        out = {name: (None if rng.random() < 0.1 else _sample(member, rng, depth + 1))
                for name, member in shape.members.items() if rng.random() < 0.8}
        out["NotInTheShape"] = "dropped"
        return out
    if kind == "list":
        return [_sample(shape.member, rng, depth + 1) for _ in range(rng.randint(0, 3))] if depth <= 5 else []
    if kind == "map":
        return {f"k{i}": _sample(shape.value, rng, depth + 1) for i in range(rng.randint(0, 2))} if depth <= 5 else {}
    if kind == "timestamp":
        return rng.choice([1700000000.25, "2026-12-03T10:00:00Z", dt.datetime(2026, 1, 2, 3, 4, 5)])
    if kind == "blob":
        return rng.choice([b"\x00\x01bytes", "text"])
    if kind in ("integer", "long"):
        return rng.choice([3, 4.0, "5"])
    if kind in ("float", "double"):
        return rng.choice([1, 2.5, "3.5"])
    if kind == "boolean":
        return rng.random() < 0.5
    return f"s{rng.randint(0, 99)}"


def test_compiled_shapers_answer_as_the_shape_walk_did_for_every_sagemaker_output():
    model = service_model("sagemaker")
    rng = random.Random(19)
    for name in model.operation_names:
        shape = model.operation_model(name).output_shape
        for _ in range(3):
            value = _sample(shape, rng) if shape is not None else {}
            assert shape_output(shape, value) == _reference(shape, value), name
