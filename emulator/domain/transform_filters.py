"""Batch transform DataProcessing (docs/container-contract.md 5.4): InputFilter, JoinSource and OutputFilter.

SageMaker's JSONPath subset: ``$``, ``.name``, ``*``, ``['a','b']``, ``[i,j]`` (negative indices
allowed) and ``[start:end]``. A CSV row is treated as a JSON array of its fields, so CSV filters
use index paths such as ``$[1:]``. A step that selects several members yields an object (names)
or an array (indices, slices, ``*``); later steps apply to each selected member.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*|\*)")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_QUOTED = re.compile(r"""^\s*(?:'([^']*)'|"([^"]*)")\s*$""")
_SLICE = re.compile(r"^\s*(-?\d+)?\s*:\s*(-?\d+)?\s*$")


class FilterError(Exception):
    """A path smlocal cannot parse, or a record it cannot filter or join; ``str()`` says why."""


@dataclass(frozen=True)
class Step:
    kind: str                 # "name" | "names" | "index" | "indices" | "slice" | "all"
    values: tuple = ()


def parse_path(path: str) -> list[Step]:
    if not isinstance(path, str) or not path.startswith("$"):
        raise FilterError("the path must start with $")
    steps, rest = [], path[1:]
    while rest:
        if match := _NAME.match(rest):
            steps.append(Step("all") if match.group(1) == "*" else Step("name", (match.group(1),)))
        elif match := _BRACKET.match(rest):
            steps.append(_bracket(match.group(1)))
        else:
            raise FilterError(f"unexpected text {rest[:20]!r}")
        rest = rest[match.end():]
    return steps


def _bracket(inner: str) -> Step:
    if inner.strip() == "*":
        return Step("all")
    if slice_match := _SLICE.match(inner):
        start, end = slice_match.groups()
        return Step("slice", (int(start) if start else None, int(end) if end else None))
    parts = inner.split(",")
    names = [m for m in (_QUOTED.match(p) for p in parts) if m is not None]
    if len(names) == len(parts):
        found = tuple(m.group(1) if m.group(1) is not None else m.group(2) for m in names)
        return Step("name" if len(found) == 1 else "names", found)
    try:
        indices = tuple(int(p) for p in parts)
    except ValueError:
        raise FilterError(f"unsupported selector [{inner}]") from None
    return Step("index" if len(indices) == 1 else "indices", indices)


def apply(steps: list[Step], value: Any) -> Any:
    """``value`` filtered by the parsed path; a member that does not exist is a FilterError."""
    if not steps:
        return value
    step, rest = steps[0], steps[1:]
    if step.kind == "name":
        return apply(rest, _member(value, step.values[0]))
    if step.kind == "index":
        return apply(rest, _element(value, step.values[0]))
    if step.kind == "names":
        return {name: apply(rest, _member(value, name)) for name in step.values}
    if step.kind == "indices":
        return [apply(rest, _element(value, i)) for i in step.values]
    if step.kind == "slice":
        if not isinstance(value, list):
            raise FilterError("a slice applies to an array")
        return [apply(rest, v) for v in value[slice(*step.values)]]
    members = list(value.values()) if isinstance(value, dict) else value
    if not isinstance(members, list):
        raise FilterError("* applies to an object or an array")
    return [apply(rest, v) for v in members]


def _member(value: Any, name: str) -> Any:
    if not isinstance(value, dict) or name not in value:
        raise FilterError(f"the record has no attribute {name!r}")
    return value[name]


def _element(value: Any, index: int) -> Any:
    if not isinstance(value, list) or not -len(value) <= index < len(value):
        raise FilterError(f"the record has no element [{index}]")
    return value[index]


# --- records in and out ------------------------------------------------------------------------------
def parse_record(record: bytes, csv_format: bool) -> Any:
    text = record.decode("utf-8").rstrip("\r\n")
    if csv_format:
        rows = list(csv.reader([text]))
        return rows[0] if rows else []
    return json.loads(text)


def format_record(value: Any, csv_format: bool) -> bytes:
    if csv_format:
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(value if isinstance(value, list) else [value])
        return out.getvalue().encode()
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass
class DataProcessing:
    input_steps: list[Step]
    output_steps: list[Step]
    join: bool
    csv_format: bool

    @classmethod
    def from_job(cls, job: dict[str, Any], csv_format: bool) -> DataProcessing | None:
        config = job.get("DataProcessing") or {}
        input_path, output_path = config.get("InputFilter", "$"), config.get("OutputFilter", "$")
        join = config.get("JoinSource", "None") == "Input"
        if input_path == "$" and output_path == "$" and not join:
            return None
        return cls(parse_path(input_path), parse_path(output_path), join, csv_format)

    def filter_input(self, record: bytes) -> bytes:
        if not self.input_steps:
            return record
        return format_record(apply(self.input_steps, self._parse(record, "input")), self.csv_format) + b"\n"

    def assemble(self, source: bytes, output: bytes) -> bytes:
        """One output record: joined with its input when asked, then OutputFilter'd."""
        if not self.join and not self.output_steps:
            return output.rstrip(b"\r\n")
        result = self._parse(output, "output")
        if self.join:
            original = self._parse(source, "input")
            if self.csv_format:
                result = list(original) + (result if isinstance(result, list) else [result])
            elif isinstance(original, dict):
                result = {**original, "SageMakerOutput": result}
            else:
                result = {"SageMakerInput": original, "SageMakerOutput": result}
        return format_record(apply(self.output_steps, result), self.csv_format)

    def _parse(self, record: bytes, what: str) -> Any:
        try:
            return parse_record(record, self.csv_format)
        except (UnicodeDecodeError, ValueError) as exc:
            kind = "CSV" if self.csv_format else "JSON"
            raise FilterError(f"the {what} record {record[:200]!r} is not {kind} ({exc})") from None
