"""The three examples' SDK 3 versions (``examples/*/pipeline_v3.py``) run as users run them, with this
venv's Python and only what ``smlocal env`` exports. conftest.py starts them together when the session
starts (most of their time is the SDK's waiting, so they overlap the other tests) and runs these tests
last; each waits for its example and checks what it printed. The examples load
offline/sitecustomize.py, so a DNS lookup or connection beyond loopback fails the module."""

from __future__ import annotations

import re
import subprocess
import time

import pytest
from conftest import EXAMPLE_TIMEOUT


def output(example_runs, name: str) -> str:
    process, log, started = example_runs[name]
    try:
        code = process.wait(timeout=max(1.0, EXAMPLE_TIMEOUT - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"{name} did not finish in {EXAMPLE_TIMEOUT} s:\n{log.read_text()[-4000:]}")
    text = log.read_text()
    assert code == 0, text[-6000:]
    print(f"{name} (SDK 3) finished in {time.monotonic() - started:.0f} s")
    return text


def number(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in the output:\n{text[-4000:]}"
    return float(match.group(1))


def test_timeseries_v3(example_runs, sm):
    text = output(example_runs, "timeseries")
    assert "wrote 1980 training, 84 validation and 42 test rows" in text  # the custom container ran
    assert number(r"validation:rmse = ([\d.]+)", text) < 8
    forecast = number(r"mean absolute percentage error, forecast: ([\d.]+)%", text)
    naive = number(r"mean absolute percentage error, same_day_last_week: ([\d.]+)%", text)
    assert forecast < 8 and forecast < naive + 1, text[-3000:]
    endpoint = re.search(r"endpoint (\S+) is InService", text).group(1)
    assert "endpoint deleted" in text and sm.list_endpoints(NameContains=endpoint)["Endpoints"] == []


def test_text_v3(example_runs, sm):
    text = output(example_runs, "text")
    assert "800 documents, 4 labels ['cooking', 'sports', 'technology', 'weather']" in text
    job = re.search(r"transform job (\S+) completed", text).group(1)
    described = sm.describe_transform_job(TransformJobName=job)
    assert described["TransformJobStatus"] == "Completed" and described["BatchStrategy"] == "MultiRecord"
    assert number(r"held-out accuracy: ([\d.]+) on 160 documents", text) > 0.8
    assert "model deleted" in text


def test_images_v3(example_runs, sm):
    text = output(example_runs, "images")
    assert "wrote 180 training and 60 held-out images" in text
    assert re.search(r"this image is a (\w+); the endpoint says: \1\b", text), text[-3000:]
    assert number(r"held-out accuracy: ([\d.]+) on 60 images", text) > 0.8
    endpoint = re.search(r"endpoint (\S+) is InService", text).group(1)
    assert "endpoint deleted" in text and sm.list_endpoints(NameContains=endpoint)["Endpoints"] == []
