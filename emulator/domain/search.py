"""Search over the records smlocal holds (pure: records in, results out).

``Resource`` names a family by its noun (TrainingJob, Model, Endpoint, ModelPackage,
ModelPackageGroup, HyperParameterTuningJob, and any family added later whose noun is a Search
resource); resource types smlocal never holds (experiments, feature groups, projects, ...) have no
records, so their search answers nothing. A record's searchable properties are the members of its
result entry (its Describe members; for ``Model`` the dashboard entry ``{"Model": {...}}``), as dotted
paths into nested members (a list matching when any element does), ``Tags.<key>``, and for training
jobs ``Metrics.<name>`` (the final value of a metric).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import Any

from emulator.domain import families
from emulator.domain.listing import paginate
from emulator.domain.records import Context
from emulator.errors import ValidationException

DEFAULT_MAX_RESULTS = 10
MISSING = object()

# SearchRecord members whose name is not the family's noun
_RECORD_MEMBER = {"ExperimentTrial": "Trial", "ExperimentTrialComponent": "TrialComponent"}


def _number(value: Any) -> float | None:
    """A number from a property or a filter Value: numbers, numeric strings, ISO-8601 timestamps."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if not value or value[0] not in "0123456789+-.":
            return None     # names, statuses, URIs: text (and no exception to pay for)
        try:
            return float(value)
        except ValueError:
            pass
        try:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _equal(actual: Any, wanted: str) -> bool:
    if actual == wanted:
        return True
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return left == right
    return _text(actual) == wanted


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, str], bool]:
    """Numbers and timestamps compare as numbers, other text as text."""
    def compare(actual: Any, wanted: str) -> bool:
        left, right = _number(actual), _number(wanted)
        if left is not None and right is not None:
            return test(left, right)
        return isinstance(actual, str) and test(actual, wanted)
    return compare


_VALUE_TESTS: dict[str, Callable[[Any, str], bool]] = {
    "Equals": _equal,
    "GreaterThan": _compare(lambda a, b: a > b),
    "GreaterThanOrEqualTo": _compare(lambda a, b: a >= b),
    "LessThan": _compare(lambda a, b: a < b),
    "LessThanOrEqualTo": _compare(lambda a, b: a <= b),
    "Contains": lambda actual, wanted: wanted.lower() in _text(actual).lower(),
    "In": lambda actual, wanted: any(_equal(actual, w.strip()) for w in wanted.split(",")),
}


def _values(node: Any, path: list[str]) -> list[Any]:
    """Every value at ``path`` below ``node`` (lists fan out: any element may match)."""
    if isinstance(node, list):
        return [v for item in node for v in _values(item, path)]
    if not path:
        return [] if node is None else [node]
    if not isinstance(node, dict):
        return []
    head, rest = path[0], path[1:]
    if head in node:
        return _values(node[head], rest)
    # a member whose own name has dots (hyperparameter names, metadata keys): the longest that matches
    for size in range(len(path), 1, -1):
        joined = ".".join(path[:size])
        if joined in node:
            return _values(node[joined], path[size:])
    return []


class Searchable:
    """One record as Search sees it: its members, tags and (training) final metrics. Tags are read
    when a filter or sort asks for them, or when the record is in the page answered."""

    def __init__(self, record: dict[str, Any],
                 tags: list[dict[str, str]] | Callable[[], list[dict[str, str]]]) -> None:
        self.record = record
        self._tags = tags

    @property
    def tags(self) -> list[dict[str, str]]:
        if callable(self._tags):
            self._tags = self._tags()
        return self._tags

    def values(self, name: str) -> list[Any]:
        path = name.split(".")
        if path[0] == "Tags":
            key = ".".join(path[1:])
            return [t["Value"] for t in self.tags if t["Key"] == key] if key else list(self.tags)
        if path[0] == "Metrics" and len(path) > 1:
            metric = ".".join(path[1:])
            return [m["Value"] for m in self.record.get("FinalMetricDataList", [])
                    if m.get("MetricName") == metric]
        return _values(self.record, path)


def _filter_matches(values: list[Any], filt: dict[str, Any]) -> bool:
    operator = filt.get("Operator", "Equals")
    if operator == "Exists":
        return bool(values)
    if operator == "NotExists":
        return not values
    wanted = filt["Value"]
    if operator == "NotEquals":
        return not any(_equal(v, wanted) for v in values)
    test = _VALUE_TESTS[operator]
    return any(test(v, wanted) for v in values)


def _nested_matches(item: Searchable, nested: dict[str, Any]) -> bool:
    """All of the filters hold for one element of the list at NestedPropertyName."""
    prefix = nested["NestedPropertyName"]
    elements = item.values(prefix)
    for element in elements:
        scoped = Searchable(element if isinstance(element, dict) else {}, [])
        if all(_filter_matches(scoped.values(_relative(f["Name"], prefix)), f) for f in nested["Filters"]):
            return True
    return False


def _relative(name: str, prefix: str) -> str:
    return name[len(prefix) + 1:] if name.startswith(prefix + ".") else name


def matches(item: Searchable, expression: dict[str, Any] | None) -> bool:
    """A SearchExpression: its Filters, NestedFilters and SubExpressions joined by And (default) or Or."""
    if not expression:
        return True
    results = [_filter_matches(item.values(f["Name"]), f) for f in expression.get("Filters", [])]
    results += [_nested_matches(item, n) for n in expression.get("NestedFilters", [])]
    results += [matches(item, sub) for sub in expression.get("SubExpressions", [])]
    if expression.get("Operator", "And") == "Or":
        return any(results) if results else True
    return all(results)


def _validate(expression: dict[str, Any] | None) -> None:
    if expression is None:
        return
    parts = (len(expression.get("Filters", [])) + len(expression.get("NestedFilters", []))
             + len(expression.get("SubExpressions", [])))
    if parts == 0:
        raise ValidationException("A SearchExpression must contain at least one of Filters, NestedFilters "
                                  "or SubExpressions.")
    filters = [*expression.get("Filters", []),
               *(f for nested in expression.get("NestedFilters", []) for f in nested["Filters"])]
    for filt in filters:
        operator = filt.get("Operator", "Equals")
        if operator not in ("Exists", "NotExists") and "Value" not in filt:
            raise ValidationException(f"Filter on {filt['Name']} with Operator {operator} needs a Value.")
    for sub in expression.get("SubExpressions", []):
        _validate(sub)


def _sort_key(name: str) -> Callable[[Searchable], Any]:
    def key(item: Searchable) -> Any:
        values = item.values(name)
        if not values:
            return (0, 0.0, "")
        number = _number(values[0])
        return (1, number, "") if number is not None else (2, 0.0, _text(values[0]).lower())
    return key


def _with_tags(item: Searchable, resource: str) -> dict[str, Any]:
    if resource == "Model":
        return {"Model": {**item.record["Model"], "Tags": item.tags}}
    return {**item.record, "Tags": item.tags}


def search(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """The Search operation over the records of the family whose noun is ``Resource``."""
    resource = params["Resource"]
    expression = params.get("SearchExpression")
    _validate(expression)
    family = next((f for f in families.ALL if f.noun == resource), None)
    items = []
    if family is not None:
        for record in ctx.store.all(family.kind):
            arn = record[family.arn_field]
            # a ModelDashboardModel: the model is one member of the entry
            entity = {"Model": record} if resource == "Model" else record
            item = Searchable(entity, functools.partial(ctx.store.tags, arn))
            if matches(item, expression):
                items.append(item)
    sort_by = params.get("SortBy") or "LastModifiedTime"
    descending = params.get("SortOrder", "Descending") == "Descending"
    items.sort(key=_sort_key(sort_by), reverse=descending)
    page, token = paginate(items, params, DEFAULT_MAX_RESULTS)
    member = _RECORD_MEMBER.get(resource, resource)
    out: dict[str, Any] = {
        "Results": [{member: _with_tags(item, resource)} for item in page],
        "TotalHits": {"Value": len(items), "Relation": "EqualTo"},
    }
    if token:
        out["NextToken"] = token
    return out
