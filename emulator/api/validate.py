"""Server-side validation of request parameters against botocore input shapes.

Two kinds of failure, as AWS reports them:
- a value of the wrong JSON type is a ``SerializationException`` (the request cannot be read);
- a constraint failure (required, length, range, pattern, enum) is a ``ValidationException`` whose
  message follows the Coral format SageMaker uses::

    2 validation errors detected: Value 'x!' at 'trainingJobName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}; Value null
    at 'roleArn' failed to satisfy constraint: Member must not be null

Member paths are lowerCamel, nested with ``.``; list members are ``<list>.<1-based index>.member``.
Validation also normalises what it reads: timestamps become epoch-second floats.
"""

from __future__ import annotations

import datetime as dt
import math
from functools import lru_cache
from typing import Any

import regex
from botocore.model import Shape

from emulator.errors import SerializationException, ValidationException

_JAVA_TYPES = {
    "structure": "structure", "list": "list", "map": "map", "string": "string",
    "integer": "integer", "long": "long", "float": "float", "double": "double",
    "boolean": "boolean", "timestamp": "timestamp", "blob": "blob",
}


_MAX_SHOWN = 1024


def lower_camel(name: str) -> str:
    """Java Beans decapitalisation, as Coral names members: TrainingJobName -> trainingJobName."""
    if len(name) > 1 and name[0].isupper() and name[1].isupper():
        return name
    return name[:1].lower() + name[1:]


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> regex.Pattern | None:
    """Compile a Java-flavoured pattern; None when even the `regex` module cannot read it."""
    # Java writes supplementary ranges as surrogate pairs; `regex` wants code points.
    fixed = pattern.replace(r"\uD800\uDC00-\uDBFF\uDFFF", r"\U00010000-\U0010FFFF")
    try:
        return regex.compile(fixed)
    except regex.error:
        return None


def render(value: Any) -> str:
    """How Coral prints a value inside ``Value '...' at``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={render(v)}" for k, v in value.items()) + "}"
    return str(value)


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []

    # --- constraint messages -------------------------------------------------------------------
    def _fail(self, value: Any, path: str, constraint: str, sensitive: bool = False) -> None:
        if value is None:
            shown = "Value null"
        elif sensitive or isinstance(value, bytes):
            shown = "Value"  # never echo secrets or payloads
        else:
            text = render(value)
            shown = f"Value '{text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + '...'}'"
        self.errors.append(f"{shown} at '{path}' failed to satisfy constraint: {constraint}")

    def _constraints(self, shape: Shape, value: Any) -> list[str]:
        """Constraint failures of one scalar/list/map value (no recursion)."""
        meta = shape.metadata
        out: list[str] = []
        kind = shape.type_name
        if kind in ("string", "blob", "list", "map"):
            size = len(value)
            if "min" in meta and size < meta["min"]:
                out.append(f"Member must have length greater than or equal to {meta['min']}")
            if "max" in meta and size > meta["max"]:
                out.append(f"Member must have length less than or equal to {meta['max']}")
        elif kind in ("integer", "long", "float", "double"):
            if "min" in meta and value < meta["min"]:
                out.append(f"Member must have value greater than or equal to {meta['min']}")
            if "max" in meta and value > meta["max"]:
                out.append(f"Member must have value less than or equal to {meta['max']}")
        if kind == "string":
            if "pattern" in meta:
                compiled = _compiled(meta["pattern"])
                if compiled is not None and compiled.fullmatch(value) is None:
                    out.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
            enum = getattr(shape, "enum", None)
            if enum and value not in enum:
                out.append(f"Member must satisfy enum value set: [{', '.join(enum)}]")
        return out

    # --- the walk --------------------------------------------------------------------------------
    def check(self, shape: Shape, value: Any, path: str) -> Any:
        """Validate ``value`` against ``shape``; returns the normalised value."""
        kind = shape.type_name
        value = _coerce(shape, value, path)
        for constraint in self._constraints(shape, value):
            self._fail(value, path, constraint, sensitive=shape.metadata.get("sensitive", False))
        if kind == "structure":
            return self._structure(shape, value, path)
        if kind == "list":
            return [self.check(shape.member, item, f"{path}.{i}.member" if path else f"{i}.member")
                    for i, item in enumerate(value, start=1)]
        if kind == "map":
            return self._map(shape, value, path)
        return value

    def _structure(self, shape: Shape, value: dict, path: str) -> dict:
        out: dict[str, Any] = {}
        required = set(shape.required_members)
        for name, member in shape.members.items():
            item = value.get(name)
            if item is None and name not in required:
                continue                  # most members are absent: no path to build (hot path)
            member_path = f"{path}.{lower_camel(name)}" if path else lower_camel(name)
            if item is None:
                self._fail(None, member_path, "Member must not be null")
                continue
            out[name] = self.check(member, item, member_path)
        return out  # unknown members are ignored, as AWS services do

    def _map(self, shape: Shape, value: dict, path: str) -> dict:
        key_failures: list[str] = []
        value_failures: list[str] = []
        out = {}
        for key, item in value.items():
            key_failures += [c for c in self._constraints(shape.key, key) if c not in key_failures]
            item = _coerce(shape.value, item, f"{path}.{key}")
            if shape.value.type_name in ("structure", "list", "map"):
                out[key] = self.check(shape.value, item, f"{path}.{key}")
            else:
                value_failures += [c for c in self._constraints(shape.value, item)
                                   if c not in value_failures]
                out[key] = item
        if key_failures:
            self._fail(value, path, f"Map keys must satisfy constraint: [{', '.join(key_failures)}]")
        if value_failures:
            self._fail(value, path, f"Map value must satisfy constraint: [{', '.join(value_failures)}]")
        return out


def _coerce(shape: Shape, value: Any, path: str) -> Any:
    """Check the JSON type of ``value``; convert timestamps to epoch floats."""
    kind = shape.type_name
    where = path or "the request body"
    ok: bool
    if kind == "structure" or kind == "map":
        ok = isinstance(value, dict)
    elif kind == "list":
        ok = isinstance(value, list)
    elif kind == "string":
        ok = isinstance(value, str)
    elif kind == "blob":
        ok = isinstance(value, (str, bytes))  # base64 text in JSON bodies, raw bytes as a payload
    elif kind == "boolean":
        ok = isinstance(value, bool)
    elif kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in ("float", "double"):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    elif kind == "timestamp":
        return _timestamp(value, where)
    else:  # pragma: no cover - botocore has no other types
        ok = True
    if not ok:
        raise SerializationException(
            f"Value {_json_kind(value)} at '{where}' cannot be read as {_JAVA_TYPES.get(kind, kind)}: "
            f"expected {_expected(kind)}.")
    return value


def _timestamp(value: Any, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.timezone.utc)
            return parsed.timestamp()
    raise SerializationException(
        f"Value {_json_kind(value)} at '{where}' cannot be read as a timestamp: expected epoch "
        "seconds (a number) or an ISO 8601 string.")


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "of type object"
    if isinstance(value, list):
        return "of type array"
    if isinstance(value, str):
        return f"'{value[:64]}'"
    return render(value)


def _expected(kind: str) -> str:
    return {
        "structure": "a JSON object", "map": "a JSON object", "list": "a JSON array",
        "string": "a JSON string", "blob": "a base64-encoded JSON string", "boolean": "true or false",
        "integer": "an integer", "long": "an integer", "float": "a number", "double": "a number",
    }.get(kind, kind)


def validate(input_shape: Shape | None, params: Any) -> dict:
    """Validate a whole request; raise the AWS error, or return the normalised parameters."""
    if input_shape is None:
        return {}
    if not isinstance(params, dict):
        raise SerializationException(
            f"The request body must be a JSON object, not {_json_kind(params)}.")
    validator = _Validator()
    try:
        out = validator.check(input_shape, params, "")
    except RecursionError as exc:
        raise SerializationException("The request body is nested too deeply.") from exc
    if validator.errors:
        count = len(validator.errors)
        noun = "error" if count == 1 else "errors"
        raise ValidationException(f"{count} validation {noun} detected: " + "; ".join(validator.errors))
    return out
