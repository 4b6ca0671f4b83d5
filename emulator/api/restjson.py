"""rest-json (the SageMaker runtime): requests routed by method + URI template, members read from
the path, headers and payload as the operation's shapes say; responses written the same way."""

from __future__ import annotations

import json
import re
import urllib.parse
from functools import lru_cache
from typing import Any

from botocore.model import OperationModel, ServiceModel

from emulator.api.serialize import shape_output


@lru_cache(maxsize=8)
def _routes(model: ServiceModel) -> list[tuple[str, re.Pattern, OperationModel]]:
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        template = op.http["requestUri"].split("?")[0]
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
        routes.append((op.http["method"], re.compile(f"^{pattern}$"), op))
    return routes


def match(model: ServiceModel, method: str, path: str) -> tuple[OperationModel, dict[str, str]] | None:
    for verb, pattern, op in _routes(model):
        found = pattern.match(path)
        if found and verb == method:
            return op, {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
    return None


def path_matches_any(model: ServiceModel, path: str) -> bool:
    return any(pattern.match(path) for _, pattern, _ in _routes(model))


def parse_request(op: OperationModel, uri: dict[str, str], headers: dict[str, str], body: bytes
                  ) -> dict[str, Any]:
    """Collect the input members; header names are case-insensitive (``headers`` lower-cased)."""
    shape = op.input_shape
    payload = shape.serialization.get("payload")
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if location == "uri" and wire in uri:
            params[name] = uri[wire]
        elif location == "header" and wire.lower() in headers:
            raw = headers[wire.lower()]
            params[name] = int(raw) if member.type_name == "integer" and raw.lstrip("-").isdigit() else raw
        elif name == payload:
            params[name] = body
    if payload is None and body:
        params.update(json.loads(body))
    return params


def render_response(op: OperationModel, result: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    shape = op.output_shape
    status = int(op.http.get("responseCode", 200))
    headers: dict[str, str] = {}
    if shape is None:
        return status, headers, b""
    payload = shape.serialization.get("payload")
    body = b""
    rest: dict[str, Any] = {}
    for name, member in shape.members.items():
        value = result.get(name)
        if value is None:
            continue
        location = member.serialization.get("location")
        if location == "header":
            headers[member.serialization.get("name", name)] = str(value)
        elif name == payload:
            body = value if isinstance(value, bytes) else str(value).encode()
        else:
            rest[name] = value
    if payload is None and rest:
        body = json.dumps(shape_output(shape, rest)).encode()
        headers.setdefault("Content-Type", "application/json")
    return status, headers, body
