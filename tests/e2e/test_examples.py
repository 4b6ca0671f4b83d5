"""Every example in examples/ run as users run it: ``python examples/<x>/pipeline.py`` in a shell
that only has what ``eval "$(smlocal env)"`` sets (the time-series one through ``./scripts/example
timeseries``, the README's first run), against a live emulator with real Docker jobs.

The selected examples are started together (most of their time is the SDK's own waiting, and each
writes under its own S3 prefix); each test then waits for its example, checks the printed result
and that the example's endpoint or transform job ended as it should."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.examples]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUNS = {  # test id -> (example directory, extra environment)
    "timeseries": ("timeseries", {}),
    "text": ("text", {}),
    "images-pytorch": ("images", {}),
    "images-tensorflow": ("images", {"FRAMEWORK": "tensorflow"}),
    "timeseries-pipeline": ("timeseries_pipeline", {}),
}
TIMEOUT = 900
AS_README = {"timeseries"}   # run through `./scripts/example timeseries`, the README's first run


class Run:
    def __init__(self, run_id: str, env: dict[str, str], log_dir: Path):
        directory, extra = RUNS[run_id]
        self.log = log_dir / f"{run_id}.log"
        self.started = time.monotonic()
        if run_id in AS_README:   # the README's first run, exactly as written, with the project's venv
            command = [str(EXAMPLES.parent / "scripts" / "example"), directory]
            extra = {**extra, "SMLOCAL_VENV": sys.prefix}
        else:
            command = [sys.executable, str(EXAMPLES / directory / "pipeline.py")]
        with self.log.open("w") as out:
            self.process = subprocess.Popen(command, cwd=EXAMPLES.parent, env={**env, **extra}, stdout=out,
                                            stderr=subprocess.STDOUT, text=True)
        self.ended: float | None = None
        threading.Thread(target=self._note_end, daemon=True).start()

    def _note_end(self) -> None:
        self.process.wait()
        self.ended = time.monotonic()

    def output(self) -> str:
        """Wait for the example and return what it printed; it must exit 0."""
        try:
            code = self.process.wait(timeout=max(1.0, TIMEOUT - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"did not finish in {TIMEOUT} s:\n{self.log.read_text()[-4000:]}")
        output = self.log.read_text()
        assert code == 0, output[-6000:]
        print(f"{self.log.stem} finished in {(self.ended or time.monotonic()) - self.started:.0f} s")
        return output


@pytest.fixture(scope="module")
def runs(request, framework_image, smlocal_env, tmp_path_factory):
    """Start every selected example at once, after building the images they need."""
    selected = [item.callspec.id for item in request.session.items
                if item.module.__name__ == request.module.__name__ and hasattr(item, "callspec")]
    for name in ("sklearn", "xgboost", "pytorch"):
        framework_image(name)
    if "images-tensorflow" in selected:
        framework_image("tensorflow")
    log_dir = tmp_path_factory.mktemp("examples")
    started = {run_id: Run(run_id, smlocal_env, log_dir) for run_id in RUNS if run_id in selected}
    yield started
    for run in started.values():
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()


def number(pattern: str, output: str) -> float:
    match = re.search(pattern, output)
    assert match, f"{pattern!r} not in the output:\n{output[-4000:]}"
    return float(match.group(1))


def endpoint_was_deleted(jobs_gateway, output: str) -> bool:
    name = re.search(r"endpoint (\S+) is InService", output).group(1)
    assert "endpoint deleted" in output
    endpoints = jobs_gateway.client("sagemaker").list_endpoints(NameContains=name)["Endpoints"]
    return [e for e in endpoints if e["EndpointName"] == name] == []


def check_timeseries(output: str, jobs_gateway) -> None:
    assert "wrote 1980 training, 84 validation and 42 test rows" in output  # the custom container ran
    assert number(r"validation:rmse = ([\d.]+)", output) < 8
    forecast = number(r"mean absolute percentage error, forecast: ([\d.]+)%", output)
    naive = number(r"mean absolute percentage error, same_day_last_week: ([\d.]+)%", output)
    assert forecast < 8 and forecast < naive + 1, output[-3000:]
    assert endpoint_was_deleted(jobs_gateway, output)


def check_text(output: str, jobs_gateway) -> None:
    assert "800 documents, 4 labels ['cooking', 'sports', 'technology', 'weather']" in output
    job = re.search(r"Creating transform job with name: (\S+)", output).group(1)
    described = jobs_gateway.client("sagemaker").describe_transform_job(TransformJobName=job)
    assert described["TransformJobStatus"] == "Completed"
    assert described["TransformInput"]["SplitType"] == "Line" and described["BatchStrategy"] == "MultiRecord"
    assert "160 records" in output  # the transform job's data log, shown by the SDK
    # BERT-style: masked-language-model pre-training, then fine-tuning (the training job's log)
    assert "TinyBert:" in output and "pre-training epoch 3: masked_lm_loss=" in output
    assert "kept the epoch with validation_accuracy=" in output
    assert number(r"held-out accuracy: ([\d.]+) on 160 documents", output) > 0.8


def check_images(output: str, jobs_gateway) -> None:
    assert "wrote 180 training and 60 held-out images" in output
    assert re.search(r"this image is a (\w+); the endpoint says: \1\b", output), output[-3000:]
    assert number(r"held-out accuracy: ([\d.]+) on 60 images", output) > 0.8
    assert endpoint_was_deleted(jobs_gateway, output)


def check_timeseries_pipeline(output: str, jobs_gateway) -> None:
    assert re.search(r"execution \w{12}: Succeeded", output), output[-3000:]
    forecast = number(r"mean absolute percentage error, forecast: ([\d.]+)%", output)
    naive = number(r"mean absolute percentage error, same_day_last_week: ([\d.]+)%", output)
    assert forecast < 8 and forecast < naive + 1, output[-3000:]
    package = re.search(r"registered (\S+) \(Approved\)", output).group(1)
    sm = jobs_gateway.client("sagemaker")
    assert sm.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == "Approved"
    assert "strict execution: Failed (Step failure: One or multiple steps failed.)" in output
    assert re.search(r"Features +Succeeded +\(cache hit\)", output) and re.search(r"Train +Succeeded +\(cache hit\)",
                                                                                    output), output[-3000:]
    assert "fail message: The forecast's MAPE is above 1.0 percent: not registered." in output


CHECKS = {"timeseries": check_timeseries, "timeseries-pipeline": check_timeseries_pipeline,
          "text": check_text, "images-pytorch": check_images, "images-tensorflow": check_images}


@pytest.mark.parametrize("run_id", list(RUNS), ids=list(RUNS))
def test_example_runs_and_prints_its_result(run_id, runs, jobs_gateway):
    output = runs[run_id].output()
    CHECKS[run_id](output, jobs_gateway)
    if run_id in AS_README:
        assert "[smlocal] running examples/timeseries/pipeline.py against " + jobs_gateway.url in output
    if run_id == "images-tensorflow":
        assert "training with tensorflow" in output and "final training_accuracy=" in output
        # the seed's TensorFlow path: TensorFlowProcessor's job ran in the TensorFlow image
        job = re.search(r"Creating processing-job with name (\S+)", output).group(1)
        described = jobs_gateway.client("sagemaker").describe_processing_job(ProcessingJobName=job)
        assert "/tensorflow-training:2.13" in described["AppSpecification"]["ImageUri"]
        assert described["AppSpecification"]["ContainerEntrypoint"][-1].endswith("runproc.sh")
