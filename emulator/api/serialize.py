"""Output shaping: a handler's plain dict becomes exactly what the output shape allows.

Members absent from the shape are dropped, ``None`` members are omitted, timestamps become epoch
seconds and blobs base64. Handlers can therefore return whole stored records (a Describe record
doubles as a List summary: the summary shape keeps only its own members).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from botocore.model import Shape


def epoch(value: Any) -> float | int:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return value


def shape_output(shape: Shape | None, value: Any) -> Any:
    """Shape ``value`` for a JSON-protocol response body."""
    if shape is None:
        return {}
    kind = shape.type_name
    if kind == "structure":
        out = {}
        for name, member in shape.members.items():
            item = value.get(name) if isinstance(value, dict) else None
            if item is None:
                continue
            wire_name = member.serialization.get("name", name)
            out[wire_name] = shape_output(member, item)
        return out
    if kind == "list":
        return [shape_output(shape.member, item) for item in value]
    if kind == "map":
        return {key: shape_output(shape.value, item) for key, item in value.items()}
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
