"""Output shaping: a handler's plain dict becomes exactly what the output shape allows.

Members absent from the shape are dropped, ``None`` members are omitted, timestamps become epoch
seconds and blobs base64. Handlers can therefore return whole stored records (a Describe record
doubles as a List summary: the summary shape keeps only its own members).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
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
    shaper = _shaper(shape)
    return value if shaper is None else shaper(value)


# --- compiled shapers ---------------------------------------------------------------------------
# Walking the botocore shape for every value cost a sixth of a DescribeTrainingJob's gateway CPU (a
# record has dozens of members): each shape gets a function once, built lazily (recursive shapes
# resolve to new shape objects level by level), that does only what its type needs. ``None`` is the
# identity (strings, booleans and the other types passed through as they are).

_Shaper = Callable[[Any], Any]
_SHAPERS: dict[int, tuple[Shape, _Shaper | None]] = {}   # by id(shape); the shape is kept so its id stays unique
_MAX_SHAPERS = 50_000


def _shaper(shape: Shape) -> _Shaper | None:
    found = _SHAPERS.get(id(shape))
    if found is not None:
        return found[1]
    if len(_SHAPERS) > _MAX_SHAPERS:   # bounded should a model hand out fresh shape objects
        _SHAPERS.clear()
    shaper = _compile(shape)
    _SHAPERS[id(shape)] = (shape, shaper)
    return shaper


def _compile(shape: Shape) -> _Shaper | None:
    kind = shape.type_name
    if kind == "structure":
        members: list[tuple[str, str, _Shaper | None]] | None = None

        def structure(value: Any) -> Any:
            nonlocal members
            if members is None:
                members = [(name, member.serialization.get("name", name), _shaper(member))
                           for name, member in shape.members.items()]
            out: dict[str, Any] = {}
            if not isinstance(value, dict):
                return out
            get = value.get
            for name, wire_name, shaper in members:
                item = get(name)
                if item is not None:
                    out[wire_name] = item if shaper is None else shaper(item)
            return out
        return structure
    if kind == "list":
        def list_(value: Any) -> Any:
            shaper = _shaper(shape.member)
            return [item for item in value] if shaper is None else [shaper(item) for item in value]
        return list_
    if kind == "map":
        def map_(value: Any) -> Any:
            shaper = _shaper(shape.value)
            return ({key: item for key, item in value.items()} if shaper is None
                    else {key: shaper(item) for key, item in value.items()})
        return map_
    return _SCALARS.get(kind)


def _blob(value: Any) -> str:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode()


_SCALARS: dict[str, _Shaper] = {"timestamp": epoch, "blob": _blob, "integer": int, "long": int,
                                "float": float, "double": float}
