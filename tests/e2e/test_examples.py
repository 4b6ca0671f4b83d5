"""Every example in examples/ run as users run it: ``python examples/<x>/pipeline.py`` in a shell
that only has what ``eval "$(smlocal env)"`` sets, against a live emulator with real Docker jobs.
Each checks the example's printed result and that it left no endpoint running."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.examples]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def images(framework_image):
    for name in ("sklearn", "xgboost", "pytorch"):
        framework_image(name)
    return framework_image


def run_example(name: str, env: dict[str, str], **extra_env: str) -> str:
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(EXAMPLES / name / "pipeline.py")], cwd=EXAMPLES.parent,
                          env={**env, **extra_env}, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    print(f"{name} {extra_env or ''} finished in {time.monotonic() - started:.0f} s")
    return output


def number(pattern: str, output: str) -> float:
    match = re.search(pattern, output)
    assert match, f"{pattern!r} not in the output:\n{output[-4000:]}"
    return float(match.group(1))


def no_endpoints_left(jobs_gateway) -> bool:
    return jobs_gateway.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_timeseries_custom_processing_xgboost_endpoint_forecasts(images, smlocal_env, jobs_gateway):
    output = run_example("timeseries", smlocal_env)
    assert "wrote 1980 training, 84 validation and 42 test rows" in output  # the custom container ran
    assert number(r"validation:rmse = ([\d.]+)", output) < 8
    forecast = number(r"mean absolute percentage error, forecast: ([\d.]+)%", output)
    naive = number(r"mean absolute percentage error, same_day_last_week: ([\d.]+)%", output)
    assert forecast < 8 and forecast < naive + 1, output[-3000:]
    assert "endpoint deleted" in output and no_endpoints_left(jobs_gateway)


def test_text_sklearn_tokenizing_pytorch_classifier_batch_transform(images, smlocal_env, jobs_gateway):
    output = run_example("text", smlocal_env)
    assert "800 documents, 4 labels ['cooking', 'sports', 'technology', 'weather']" in output
    assert "[sagemaker logs]: " in output and "160 records" in output  # the transform job's data log
    assert number(r"held-out accuracy: ([\d.]+) on 160 documents", output) > 0.8
    assert no_endpoints_left(jobs_gateway)


def test_images_processing_pytorch_cnn_endpoint_classifies(images, smlocal_env, jobs_gateway):
    output = run_example("images", smlocal_env)
    assert "wrote 180 training and 60 held-out images" in output
    assert re.search(r"this image is a (\w+); the endpoint says: \1\b", output), output[-3000:]
    assert number(r"held-out accuracy: ([\d.]+) on 60 images", output) > 0.8
    assert "endpoint deleted" in output and no_endpoints_left(jobs_gateway)


def test_images_processing_tensorflow_cnn_endpoint_classifies(images, smlocal_env, jobs_gateway):
    images("tensorflow")
    output = run_example("images", smlocal_env, FRAMEWORK="tensorflow")
    assert "training with tensorflow" in output and "final training_accuracy=" in output
    assert re.search(r"this image is a (\w+); the endpoint says: \1\b", output), output[-3000:]
    assert number(r"held-out accuracy: ([\d.]+) on 60 images", output) > 0.8
    assert "endpoint deleted" in output and no_endpoints_left(jobs_gateway)
