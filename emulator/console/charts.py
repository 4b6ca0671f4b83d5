"""Metric charts as server-rendered SVG (pure: datapoints in, markup out).

Every datapoint the job emitted is a ``<circle>`` carrying its timestamp and value (``data-ts``,
``data-value``) and a ``<title>`` a browser shows on hover, so a chart can be read, checked and
screenshotted without any script; colours come from the page's theme (CSS classes). Above
``MAX_MARKERS`` datapoints only the line is drawn (thinned to at most ``MAX_LINE_POINTS`` vertices,
keeping each bucket's extremes), and the page's datapoint table still lists them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 12, 30
MAX_MARKERS = 400
MAX_LINE_POINTS = 1200


@dataclass(frozen=True)
class Axis:
    low: float
    high: float
    ticks: list[float]


def nice_step(span: float, count: int) -> float:
    """A 1, 2 or 5 times a power of ten step that cuts ``span`` into about ``count`` parts."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def value_axis(values: list[float], count: int = 4) -> Axis:
    low, high = min(values), max(values)
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    step = nice_step(high - low, count)
    start = math.floor(low / step) * step
    end = math.ceil(high / step) * step
    ticks = []
    tick = start
    while tick <= end + step / 2:
        ticks.append(round(tick, 12))
        tick += step
    return Axis(start, end, ticks)


def time_axis(seconds: float, count: int = 5) -> Axis:
    """Elapsed-time ticks at 1/2/5/10/15/30 s, minutes or hours."""
    span = max(seconds, 1.0)
    candidates = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400)
    step = next((c for c in candidates if span / c <= count), 86400 * math.ceil(span / 86400 / count))
    end = math.ceil(span / step) * step
    return Axis(0.0, float(end), [float(t) for t in range(0, int(end) + 1, int(step))])


def elapsed_label(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        minutes, rest = divmod(seconds, 60)
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest:02d}s"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h" if rest == 0 else f"{hours}h{rest // 60:02d}m"


def number_label(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.2e}"
    return f"{value:.6g}"


def thin(points: list[tuple[int, float]], limit: int) -> list[tuple[int, float]]:
    """At most about ``limit`` vertices: the first and last point plus each bucket's min and max."""
    if len(points) <= limit:
        return points
    buckets = limit // 2
    size = len(points) / buckets
    kept: list[tuple[int, float]] = [points[0]]
    for index in range(buckets):
        chunk = points[int(index * size):int((index + 1) * size)]
        if not chunk:
            continue
        low = min(chunk, key=lambda p: p[1])
        high = max(chunk, key=lambda p: p[1])
        kept.extend(sorted({low, high}, key=lambda p: p[0]))
    kept.append(points[-1])
    return kept


def render(name: str, points: list[tuple[int, float]], start_ms: int | None = None, colour: int = 1) -> Markup:
    """One metric's chart. ``points`` are (epoch ms, value) in emission order; the x axis is the time
    since ``start_ms`` (default: the first datapoint)."""
    if not points:
        return Markup("")
    origin = start_ms if start_ms is not None and start_ms <= points[0][0] else points[0][0]
    xs = [(ts - origin) / 1000 for ts, _ in points]
    values = [v for _, v in points]
    x_axis = time_axis(max(xs))
    y_axis = value_axis(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(seconds: float) -> float:
        return LEFT + plot_w * (seconds - x_axis.low) / ((x_axis.high - x_axis.low) or 1)

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - (value - y_axis.low) / ((y_axis.high - y_axis.low) or 1))

    colour = (colour - 1) % 4 + 1
    title = escape(name)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}: '
             f'{len(points)} datapoints" data-metric="{title}" data-count="{len(points)}">']
    for tick in y_axis.ticks:
        y = y_of(tick)
        parts.append(f'<line class="grid-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis-label" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(number_label(tick))}</text>')
    for tick in x_axis.ticks:
        x = x_of(tick)
        parts.append(f'<text class="axis-label" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                     f'{escape(elapsed_label(tick))}</text>')
    line = thin(list(zip([int(x * 1000) for x in xs], values, strict=True)), MAX_LINE_POINTS)
    vertices = " ".join(f"{x_of(ms / 1000):.1f},{y_of(v):.1f}" for ms, v in line)
    parts.append(f'<polyline class="series s{colour}" points="{vertices}"/>')
    if len(points) <= MAX_MARKERS:
        radius = 4 if len(points) <= 60 else 2.5
        for (ts, value), seconds in zip(points, xs, strict=True):
            parts.append(
                f'<circle class="point p{colour}" cx="{x_of(seconds):.1f}" cy="{y_of(value):.1f}" r="{radius}" '
                f'data-ts="{ts}" data-value="{value!r}"><title>{title} = {escape(number_label(value))} at '
                f'{escape(elapsed_label(seconds))}</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))


def trials(name: str, points: list[tuple[str, int, float]], start_ms: int, best: str | None,
           maximize: bool) -> Markup:
    """A tuning job's objective chart: one marker per ended trial at (time it ended since the tuning
    job started, its final objective), the best-so-far as a step line, the best trial highlighted.
    ``points`` are (trial name, end epoch ms, final objective) in any order."""
    if not points:
        return Markup("")
    ordered = sorted(points, key=lambda p: p[1])
    xs = [max(0.0, (ms - start_ms) / 1000) for _, ms, _ in ordered]
    values = [v for _, _, v in ordered]
    x_axis = time_axis(max(xs))
    y_axis = value_axis(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(seconds: float) -> float:
        return LEFT + plot_w * (seconds - x_axis.low) / ((x_axis.high - x_axis.low) or 1)

    def y_of(value: float) -> float:
        return TOP + plot_h * (1 - (value - y_axis.low) / ((y_axis.high - y_axis.low) or 1))

    title = escape(name)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}: '
             f'{len(points)} trials" data-metric="{title}" data-count="{len(points)}">']
    for tick in y_axis.ticks:
        y = y_of(tick)
        parts.append(f'<line class="grid-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis-label" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(number_label(tick))}</text>')
    for tick in x_axis.ticks:
        parts.append(f'<text class="axis-label" x="{x_of(tick):.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                     f'{escape(elapsed_label(tick))}</text>')
    # the best objective reached so far, as a step line
    steps: list[str] = []
    record: float | None = None
    for seconds, value in zip(xs, values, strict=True):
        if record is not None:
            steps.append(f"{x_of(seconds):.1f},{y_of(record):.1f}")
        if record is None or (value > record if maximize else value < record):
            record = value
        steps.append(f"{x_of(seconds):.1f},{y_of(record):.1f}")
    parts.append(f'<polyline class="series s1 best-so-far" points="{" ".join(steps)}"/>')
    for (trial, ms, value), seconds in zip(ordered, xs, strict=True):
        chosen = trial == best
        css = "point best" if chosen else "point p2"
        parts.append(
            f'<circle class="{css}" cx="{x_of(seconds):.1f}" cy="{y_of(value):.1f}" r="{6 if chosen else 4}" '
            f'data-trial="{escape(trial)}" data-ts="{ms}" data-value="{value!r}"'
            f'{" data-best" if chosen else ""}><title>{escape(trial)}: {title} = '
            f'{escape(number_label(value))}{" (best)" if chosen else ""}</title></circle>')
    parts.append("</svg>")
    return Markup("".join(parts))
