"""Training metrics: every datapoint a job's MetricDefinitions found in its logs, with its timestamp."""

from __future__ import annotations

from typing import Any

from emulator.state.db import Database


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

    def points(self, arn: str, name: str, start_ms: int, end_ms: int) -> list[tuple[int, float]]:
        """One metric's datapoints with ``start_ms <= ts < end_ms``, oldest first (the index serves it)."""
        rows = self.db.query("SELECT ts, value FROM metrics WHERE arn=? AND name=? AND ts>=? AND ts<? "
                             "ORDER BY ts, rowid", (arn, name, start_ms, end_ms))
        return [(row["ts"], row["value"]) for row in rows]

    def names(self, arn: str | None = None) -> list[tuple[str, str]]:
        """(job ARN, metric name) of every series, or of one job's."""
        if arn is not None:
            rows = self.db.query("SELECT DISTINCT arn, name FROM metrics WHERE arn=? ORDER BY name", (arn,))
        else:
            rows = self.db.query("SELECT DISTINCT arn, name FROM metrics ORDER BY arn, name")
        return [(row["arn"], row["name"]) for row in rows]

    def final(self, arn: str) -> list[dict[str, Any]]:
        """Last value per metric (used when a job is reattached after a restart)."""
        latest: dict[str, tuple[float, int]] = {}
        for name, points in self.series(arn).items():
            ts, value = points[-1]
            latest[name] = (value, ts)
        return [{"MetricName": n, "Value": v, "Timestamp": t / 1000} for n, (v, t) in sorted(latest.items())]
