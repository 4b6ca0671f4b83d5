"""The pipeline graph (emulator.console.dag): columns follow dependencies, every step and edge is drawn
with its status, links go where they should, and names are escaped."""

from __future__ import annotations

import re

from emulator.console.dag import Node, columns, render


def nodes() -> list[Node]:
    return [Node("Preprocess", "Processing", status="Succeeded", href="/p"),
            Node("Train", "Training", {"Preprocess"}, "Executing", "/t"),
            Node("Evaluate", "Processing", {"Train", "Preprocess"}),
            Node("Check", "Condition", {"Evaluate"}),
            Node("Register", "RegisterModel", {"Check"}),
            Node("Fail", "Fail", {"Check"})]


def test_columns_are_the_longest_dependency_path():
    assert columns(nodes()) == {"Preprocess": 0, "Train": 1, "Evaluate": 2, "Check": 3, "Register": 4, "Fail": 4}


def test_every_step_and_dependency_is_drawn_with_its_status_and_link():
    svg = str(render(nodes()))
    steps = re.findall(r'<g class="step (\w+)" data-step="([^"]+)" data-status="([^"]*)"', svg)
    assert steps == [("ok", "Preprocess", "Succeeded"), ("busy", "Train", "Executing"), ("idle", "Evaluate", ""),
                     ("idle", "Check", ""), ("idle", "Register", ""), ("idle", "Fail", "")]
    edges = set(re.findall(r'data-from="([^"]+)" data-to="([^"]+)"', svg))
    assert edges == {("Preprocess", "Train"), ("Train", "Evaluate"), ("Preprocess", "Evaluate"),
                     ("Evaluate", "Check"), ("Check", "Register"), ("Check", "Fail")}
    assert '<a href="/t"><g class="step busy" data-step="Train"' in svg
    assert svg.count("<a href=") == 2
    # every edge points right: its end x is beyond its start x
    for path in re.findall(r'class="edge"[^>]* d="([^"]+)"', svg):
        points = [tuple(map(int, xy.split(","))) for xy in re.findall(r"-?\d+,-?\d+", path)]
        assert points[-1][0] > points[0][0]


def test_names_are_escaped_and_an_empty_pipeline_draws_nothing():
    assert str(render([])) == ""
    svg = str(render([Node("<script>", "Fail", note="<b>")]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg


def _boxes(svg: str) -> dict[str, tuple[int, int, int, int]]:
    return {name: (int(x), int(y), int(x) + int(w), int(y) + int(h)) for name, x, y, w, h in re.findall(
        r'data-step="([^"]+)"[^>]*><title>[^<]*</title><rect x="(\d+)" y="(\d+)" width="(\d+)" height="(\d+)"',
        svg)}


def test_an_edge_that_skips_columns_goes_around_the_boxes_between():
    # Preprocess (column 0) -> Evaluate (column 2) passes column 1, where Train and a second step sit
    graph = [Node("Preprocess", "Processing"), Node("Train", "Training", {"Preprocess"}),
             Node("Other", "Processing", {"Preprocess"}), Node("Evaluate", "Processing", {"Train", "Preprocess"})]
    svg = str(render(graph))
    boxes = _boxes(svg)
    path = re.search(r'data-from="Preprocess" data-to="Evaluate" d="([^"]+)"', svg).group(1)
    assert path.startswith("M") and " C" not in path
    points = [tuple(map(int, xy.split(","))) for xy in re.findall(r"(\d+,\d+)", path)]
    assert points[0] == (boxes["Preprocess"][2], (boxes["Preprocess"][1] + boxes["Preprocess"][3]) // 2)
    assert points[-1] == (boxes["Evaluate"][0], (boxes["Evaluate"][1] + boxes["Evaluate"][3]) // 2)
    for (ax, ay), (bx, by) in zip(points, points[1:], strict=False):
        assert ax == bx or ay == by                     # straight segments
        for name in ("Train", "Other"):
            left, top, right, bottom = boxes[name]
            crosses = (min(ax, bx) < right and max(ax, bx) > left and min(ay, by) < bottom and max(ay, by) > top)
            assert not crosses, f"segment {(ax, ay)}-{(bx, by)} crosses {name}'s box {boxes[name]}"
