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
    for start, end in re.findall(r'd="M(\d+),\d+ C[^ ]+ [^ ]+ (\d+),\d+"', svg):
        assert int(end) > int(start)


def test_names_are_escaped_and_an_empty_pipeline_draws_nothing():
    assert str(render([])) == ""
    svg = str(render([Node("<script>", "Fail", note="<b>")]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "<b>" not in svg
