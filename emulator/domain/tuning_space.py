"""A tuning job's search space, read from its ParameterRanges (pure).

``Range`` is one tunable hyperparameter: its kind (Integer, Continuous, Categorical), bounds or values,
and ScalingType. ``parse_ranges`` checks what SageMaker checks (bounds that are numbers and in order,
scales that fit the range) with messages that say what to change; ``grid`` lists every combination of
a Grid search; ``combinations`` counts the distinct values of an all-discrete space. The search itself
(the samplers that pick values in these ranges) is in ``emulator.jobs.tuning_search``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from emulator.errors import ValidationException

INTEGER, CONTINUOUS, CATEGORICAL = "Integer", "Continuous", "Categorical"
_LISTS = {INTEGER: "IntegerParameterRanges", CONTINUOUS: "ContinuousParameterRanges",
          CATEGORICAL: "CategoricalParameterRanges"}


@dataclass(frozen=True)
class Range:
    name: str
    kind: str                          # Integer | Continuous | Categorical
    low: float = 0.0
    high: float = 0.0
    scaling: str = "Auto"              # Auto | Linear | Logarithmic | ReverseLogarithmic
    values: tuple[str, ...] = ()       # Categorical

    @property
    def discrete(self) -> bool:
        return self.kind != CONTINUOUS

    def choices(self) -> list[str]:
        """Every value of a discrete range, as hyperparameter strings."""
        if self.kind == CATEGORICAL:
            return list(self.values)
        if self.kind == INTEGER:
            return [str(v) for v in range(int(self.low), int(self.high) + 1)]
        raise ValueError(f"{self.name} is continuous")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high,
                "scaling": self.scaling, "values": list(self.values)}


def _number(text: str, what: str, integer: bool) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise ValidationException(f"The {what} '{text}' must be {kind}.") from None
    if not math.isfinite(value):
        raise ValidationException(f"The {what} '{text}' must be a finite number.")
    return float(value)


def _numeric(item: dict[str, Any], kind: str) -> Range:
    name = item["Name"]
    integer = kind == INTEGER
    low = _number(item["MinValue"], f"MinValue of hyperparameter {name}", integer)
    high = _number(item["MaxValue"], f"MaxValue of hyperparameter {name}", integer)
    scaling = item.get("ScalingType") or "Auto"
    if low > high:
        raise ValidationException(
            f"The MinValue ({item['MinValue']}) of hyperparameter {name} must not be greater than its "
            f"MaxValue ({item['MaxValue']}).")
    if scaling == "Logarithmic" and low <= 0:
        raise ValidationException(
            f"Hyperparameter {name} uses ScalingType Logarithmic, which needs a range of values greater than 0; "
            f"its MinValue is {item['MinValue']}.")
    if scaling == "ReverseLogarithmic":
        if integer:
            raise ValidationException(
                f"Hyperparameter {name} is an integer range; ScalingType ReverseLogarithmic applies only to "
                "continuous ranges within 0 <= x < 1.")
        if low < 0 or high >= 1:
            raise ValidationException(
                f"Hyperparameter {name} uses ScalingType ReverseLogarithmic, which needs a range within "
                f"0 <= x < 1; its range is [{item['MinValue']}, {item['MaxValue']}].")
    return Range(name, kind, low, high, scaling)


def parse_ranges(ranges: dict[str, Any] | None) -> list[Range]:
    """ParameterRanges -> ranges, in the order Integer, Continuous, Categorical, each as given."""
    ranges = ranges or {}
    if ranges.get("AutoParameters"):
        raise ValidationException(
            "ParameterRanges.AutoParameters (Autotune) is not supported by smlocal: give the ranges to search "
            "as IntegerParameterRanges, ContinuousParameterRanges or CategoricalParameterRanges.")
    parsed: list[Range] = []
    for kind, key in _LISTS.items():
        for item in ranges.get(key) or []:
            if kind == CATEGORICAL:
                parsed.append(Range(item["Name"], CATEGORICAL, values=tuple(item["Values"])))
            else:
                parsed.append(_numeric(item, kind))
    seen: set[str] = set()
    for item in parsed:
        if item.name in seen:
            raise ValidationException(f"Hyperparameter {item.name} appears in more than one parameter range.")
        seen.add(item.name)
    return parsed


def combinations(ranges: list[Range]) -> int | None:
    """How many distinct value combinations an all-discrete space has; None if any range is continuous."""
    if any(not r.discrete for r in ranges):
        return None
    return math.prod(len(r.choices()) for r in ranges) if ranges else 1


def grid(ranges: list[Range]) -> list[dict[str, str]]:
    """Every combination of a Grid search, the first range varying slowest."""
    names = [r.name for r in ranges]
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(r.choices() for r in ranges))]
