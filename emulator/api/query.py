"""The AWS query protocol (STS, IAM, CloudWatch): form-encoded requests, XML responses.

Both directions walk botocore shapes, so any query operation a provider implements is served.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import OperationModel, Shape

from emulator.api.serialize import epoch
from emulator.errors import SerializationException

NAMESPACES = {
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "cloudwatch": "http://monitoring.amazonaws.com/doc/2010-08-01/",
}
VERSIONS = {"2011-06-15": "sts", "2010-05-08": "iam", "2010-08-01": "cloudwatch"}


# --- request -----------------------------------------------------------------------------------------
def parse_params(shape: Shape | None, form: dict[str, str]) -> dict[str, Any]:
    """Rebuild nested parameters from flattened form keys (``ActionNames.member.1=...``)."""
    if shape is None:
        return {}
    return _parse(shape, form, "") or {}


def _parse(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    parse = _PARSERS.get(shape.type_name, _parse_scalar)
    return parse(shape, form, prefix)


def _parse_structure(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    out = {}
    for name, member in shape.members.items():
        key = member.serialization.get("name", name)
        value = _parse(member, form, f"{prefix}.{key}" if prefix else key)
        if value is not None:
            out[name] = value
    return out if out or not prefix else None


def _parse_list(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    flat = shape.serialization.get("flattened")
    item_prefix = prefix if flat else f"{prefix}.member"
    items = []
    index = 1
    while any(k == f"{item_prefix}.{index}" or k.startswith(f"{item_prefix}.{index}.") for k in form):
        items.append(_parse(shape.member, form, f"{item_prefix}.{index}"))
        index += 1
    if not items and prefix in form and form[prefix] == "":
        return []
    return items or None


def _parse_map(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    out = {}
    index = 1
    while f"{prefix}.entry.{index}.key" in form:
        out[form[f"{prefix}.entry.{index}.key"]] = _parse(shape.value, form,
                                                          f"{prefix}.entry.{index}.value")
        index += 1
    return out or None


def _parse_scalar(shape: Shape, form: dict[str, str], prefix: str) -> Any:
    if prefix not in form:
        return None
    raw, kind = form[prefix], shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("float", "double"):
            return float(raw)
    except ValueError:
        raise SerializationException(f"Value '{raw}' for parameter {prefix} is not a number.") from None
    if kind == "boolean":
        return raw.lower() == "true"
    return raw


_PARSERS = {"structure": _parse_structure, "list": _parse_list, "map": _parse_map}


# --- response ----------------------------------------------------------------------------------------
def xml_result(service: str, operation: OperationModel, result: dict[str, Any], request_id: str) -> str:
    name = operation.name
    shape = operation.output_shape
    inner = _xml_members(shape, result) if shape is not None else ""
    wrapper = shape.serialization.get("resultWrapper", f"{name}Result") if shape is not None else None
    body = f"<{wrapper}>{inner}</{wrapper}>" if shape is not None else ""
    return (f'<{name}Response xmlns="{NAMESPACES[service]}">{body}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{name}Response>")


def _xml_members(shape: Shape, value: dict[str, Any]) -> str:
    parts = []
    for name, member in shape.members.items():
        if value.get(name) is None:
            continue
        tag = member.serialization.get("name", name)
        parts.append(_xml_value(member, value[name], tag))
    return "".join(parts)


def _xml_value(shape: Shape, value: Any, tag: str) -> str:
    kind = shape.type_name
    if kind == "structure":
        return f"<{tag}>{_xml_members(shape, value)}</{tag}>"
    if kind == "list":
        item_tag = shape.member.serialization.get("name", "member")
        items = "".join(_xml_value(shape.member, item, item_tag) for item in value)
        if shape.serialization.get("flattened"):
            return "".join(_xml_value(shape.member, item, tag) for item in value)
        return f"<{tag}>{items}</{tag}>"
    if kind == "map":
        entries = "".join(f"<entry>{_xml_value(shape.key, k, 'key')}{_xml_value(shape.value, v, 'value')}</entry>"
                          for k, v in value.items())
        return f"<{tag}>{entries}</{tag}>"
    if kind == "timestamp":
        stamp = dt.datetime.fromtimestamp(epoch(value), tz=dt.timezone.utc)
        text = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    elif kind == "boolean":
        text = "true" if value else "false"
    else:
        text = escape(str(value))
    return f"<{tag}>{text}</{tag}>"
