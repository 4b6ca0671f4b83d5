"""MetricDefinitions applied to log lines, as the platform does (docs/container-contract.md 1.11).

CloudWatch shows a TAB as ``#011`` and built-in regexes say ``#011``, so each line is matched
with tabs written that way. Every match is a datapoint; FinalMetricDataList holds the last value
per metric. Datapoints are stored durably (``emulator.state.metrics.MetricStore``) with their
timestamps.
"""

from __future__ import annotations

import logging
import math
import re

log = logging.getLogger(__name__)


class MetricExtractor:
    def __init__(self, definitions: list[dict[str, str]]) -> None:
        self.patterns: list[tuple[str, re.Pattern]] = []
        for definition in definitions:
            try:
                self.patterns.append((definition["Name"], re.compile(definition["Regex"])))
            except re.error as exc:
                log.warning("metric %s: bad regex %r (%s)", definition["Name"], definition["Regex"], exc)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def scan(self, line: str) -> list[tuple[str, float]]:
        """Datapoints found in one log line."""
        if not self.patterns:
            return []
        text = line.replace("\t", "#011")
        found = []
        for name, pattern in self.patterns:
            match = pattern.search(text)
            if not match:
                continue
            try:
                value = float(match.group(1) if pattern.groups else match.group(0))
            except (ValueError, IndexError):
                continue
            if math.isfinite(value):
                found.append((name, value))
        return found
