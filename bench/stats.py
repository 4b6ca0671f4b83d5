"""Summaries every benchmark reports: median with min and max, percentiles, ratios."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min, max and count of repeated measurements."""
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not ordered:
        return float("nan")
    rank = max(1, round(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(latencies: list[float], seconds: float) -> dict[str, float]:
    """p50 / p99 in milliseconds and throughput of one load run."""
    latencies = sorted(latencies)
    return {"p50_ms": percentile(latencies, 0.5) * 1000, "p99_ms": percentile(latencies, 0.99) * 1000,
            "rps": len(latencies) / seconds, "requests": len(latencies)}


def ratio(subject: float, baseline: float) -> float:
    return subject / baseline if baseline else float("nan")


def fmt_range(s: dict[str, float], unit: str = "s", digits: int = 3) -> str:
    """`0.512 s (0.498-0.530)`."""
    if not s.get("n"):
        return "—"
    unit = f" {unit}" if unit else ""
    if s["n"] == 1:
        return f"{s['median']:.{digits}f}{unit}"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"
