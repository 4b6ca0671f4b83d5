"""The console's SVG metric charts: every datapoint is drawn where its value and time say."""

from __future__ import annotations

import re

from emulator.console import charts


def _circles(svg: str) -> list[tuple[int, float, float, float]]:
    found = re.findall(r'<circle class="point p\d" cx="([\d.]+)" cy="([\d.]+)" r="[\d.]+" '
                       r'data-ts="(\d+)" data-value="([^"]+)">', svg)
    return [(int(ts), float(value), float(cx), float(cy)) for cx, cy, ts, value in found]


def test_every_point_is_a_marker_with_its_exact_time_and_value():
    points = [(1_000_000, 0.5), (1_030_000, 0.25), (1_090_000, 0.125), (1_120_000, 1.0 / 3)]
    svg = str(charts.render("val:loss", points, start_ms=1_000_000))
    circles = _circles(svg)
    assert [(ts, value) for ts, value, _, _ in circles] == points
    # later points are further right; a larger value is higher (a smaller y)
    xs = [cx for _, _, cx, _ in circles]
    assert xs == sorted(xs) and len(set(xs)) == 4
    ys = {value: cy for _, value, _, cy in circles}
    assert ys[1.0 / 3] < ys[0.125] and ys[0.5] < ys[0.25]
    assert 'data-count="4"' in svg


def test_markers_lie_inside_the_plot_and_on_the_line():
    points = [(i * 1000, float(i % 7) - 3) for i in range(50)]
    svg = str(charts.render("m", points))
    vertices = re.search(r'<polyline class="series s1" points="([^"]+)"', svg).group(1).split()
    assert len(vertices) == 50
    for (_, _, cx, cy), vertex in zip(_circles(svg), vertices, strict=True):
        assert vertex == f"{cx:.1f},{cy:.1f}"
        assert charts.LEFT <= cx <= charts.WIDTH - charts.RIGHT
        assert charts.TOP <= cy <= charts.HEIGHT - charts.BOTTOM


def test_names_are_escaped():
    svg = str(charts.render('<script>alert("x")</script>', [(0, 1.0), (1000, 2.0)]))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg


def test_a_constant_series_still_has_a_range():
    axis = charts.value_axis([2.0, 2.0])
    assert axis.low < 2.0 < axis.high


def test_nice_ticks_cover_the_values():
    axis = charts.value_axis([0.013, 0.92])
    assert axis.low <= 0.013 and axis.high >= 0.92
    steps = {round(b - a, 9) for a, b in zip(axis.ticks, axis.ticks[1:], strict=False)}
    assert len(steps) == 1 and steps.pop() in (0.1, 0.2, 0.25, 0.5)


def test_time_labels():
    assert charts.elapsed_label(0) == "0s"
    assert charts.elapsed_label(90) == "1m30s"
    assert charts.elapsed_label(3600) == "1h"
    assert charts.time_axis(100).ticks[-1] >= 100


def test_many_points_draw_a_thinned_line_without_markers():
    points = [(i * 10, float(i % 100)) for i in range(10_000)]
    svg = str(charts.render("m", points))
    assert "<circle" not in svg
    vertices = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(vertices) <= charts.MAX_LINE_POINTS + 2
    thinned = charts.thin(points, charts.MAX_LINE_POINTS)
    assert thinned[0] == points[0] and thinned[-1] == points[-1]
    assert max(v for _, v in thinned) == 99.0 and min(v for _, v in thinned) == 0.0


def test_no_points_no_chart():
    assert str(charts.render("m", [])) == ""


def test_trials_chart_marks_every_trial_and_the_best_and_steps_the_best_so_far():
    import re as _re

    from emulator.console.charts import trials

    points = [("t-003", 7_000, 0.5), ("t-001", 3_000, 0.2), ("t-002", 5_000, 0.9), ("t-004", 9_000, 0.4)]
    svg = str(trials("validation:score", points, 1_000, "t-002", maximize=True))
    markers = _re.findall(r'data-trial="([^"]+)" data-ts="(\d+)" data-value="([^"]+)"', svg)
    assert [(t, int(ts), float(v)) for t, ts, v in markers] == sorted(points, key=lambda p: p[1])
    assert _re.findall(r'data-trial="([^"]+)"[^>]*data-best', svg) == ["t-002"]
    assert 'data-count="4"' in svg
    # the best-so-far line never goes down when maximizing: 0.2, 0.5, then 0.9 to the end
    line = _re.search(r'class="series s1 best-so-far" points="([^"]+)"', svg).group(1)
    ys = [float(p.split(",")[1]) for p in line.split()]
    assert ys == sorted(ys, reverse=True)       # SVG y grows downwards
    minimizing = str(trials("loss", points, 1_000, "t-001", maximize=False))
    ys = [float(p.split(",")[1]) for p in
          _re.search(r'best-so-far" points="([^"]+)"', minimizing).group(1).split()]
    assert len(set(ys)) == 1                    # 0.2 came first and stayed the lowest


def test_trials_chart_is_empty_without_ended_trials_and_escapes_names():
    from emulator.console.charts import trials

    assert str(trials("m", [], 0, None, maximize=True)) == ""
    svg = str(trials("<m>", [("<x>", 10, 1.0)], 0, "<x>", maximize=True))
    assert "<x>" not in svg and "&lt;x&gt;" in svg and "&lt;m&gt;" in svg
