"""MetricDefinitions applied to log lines, as the platform does (contracts.md 1.11).

CloudWatch shows a TAB as ``#011`` and built-in regexes say ``#011``, so each line is matched
with tabs written that way. Every match is a datapoint; FinalMetricDataList holds the last value
per metric. Datapoints are stored durably (``MetricStore``) with their timestamps.
"""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from emulator.state.db import Database

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


class MetricStore:
    """Time series of every datapoint, per job ARN."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS metrics (arn TEXT NOT NULL, name TEXT NOT NULL, "
                         "ts INTEGER NOT NULL, value REAL NOT NULL)")
            conn.execute("CREATE INDEX IF NOT EXISTS metrics_by_arn ON metrics (arn, name, ts)")

    def add(self, arn: str, points: list[tuple[str, int, float]]) -> None:
        if points:
            with self.db.transaction() as conn:
                conn.executemany("INSERT INTO metrics (arn, name, ts, value) VALUES (?, ?, ?, ?)",
                                 [(arn, name, ts, value) for name, ts, value in points])

    def series(self, arn: str) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {}
        for row in self.db.query("SELECT name, ts, value FROM metrics WHERE arn=? ORDER BY rowid", (arn,)):
            out.setdefault(row["name"], []).append((row["ts"], row["value"]))
        return out

    def final(self, arn: str) -> list[dict[str, Any]]:
        """Last value per metric (used when a job is reattached after a restart)."""
        latest: dict[str, tuple[float, int]] = {}
        for name, points in self.series(arn).items():
            ts, value = points[-1]
            latest[name] = (value, ts)
        return [{"MetricName": n, "Value": v, "Timestamp": t / 1000} for n, (v, t) in sorted(latest.items())]
