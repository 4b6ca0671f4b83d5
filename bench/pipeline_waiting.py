"""How long the SageMaker SDK's ``execution.wait()`` takes for a short pipeline, against the sum of the
run times of the jobs it ran, with smlocal's hold on the SDK's DescribePipelineExecution
(emulator/sagemaker/pipelines.py) on (the default) and off (SMLOCAL_SDK_DESCRIBE_WAIT=0), in one run.

The pipeline: a Processing step (sleep N) -> a Training step (sleep N) -> a Model step. ``wait()`` polls
every 30 s (the SDK's default delay), so without the hold a pipeline that ends just after a look is seen
up to 30 s late.

    python -m bench.pipeline_waiting [--durations 1 12]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench import images
from bench.emulator_proc import ROLE, running

IMAGE = images.SLEEP


def point_sdk_at(env: dict[str, str], tmp: Path) -> None:
    config = tmp / "sdk.yaml"
    config.write_text(yaml.safe_dump({"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {
        "TelemetryOptOut": True, "Session": {"DefaultS3Bucket": "bench"}}}}}))
    os.environ.update({**env, "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "SAGEMAKER_SUPPRESS_V2_WARNING": "1"})


def run_pipeline(seconds: int, name: str) -> tuple[float, float]:
    """(time through start() + wait(), the sum of the jobs' own run times) for one execution."""
    import sagemaker
    from sagemaker.estimator import Estimator
    from sagemaker.model import Model
    from sagemaker.processing import Processor
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    session = PipelineSession()
    processor = Processor(image_uri=IMAGE, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          entrypoint=["sleep", str(seconds)], sagemaker_session=session)
    prep = ProcessingStep(name="Prep", step_args=processor.run())
    estimator = Estimator(image_uri=IMAGE, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          hyperparameters={"seconds": seconds}, sagemaker_session=session)
    train = TrainingStep(name="Train", step_args=estimator.fit(), depends_on=[prep])
    model = Model(image_uri=IMAGE, model_data=train.properties.ModelArtifacts.S3ModelArtifacts, role=ROLE,
                  sagemaker_session=session)
    make = ModelStep(name="Make", step_args=model.create(instance_type="ml.m5.large"))
    pipeline = Pipeline(name=name, steps=[prep, train, make], sagemaker_session=session)
    pipeline.upsert(role_arn=ROLE)
    started = time.monotonic()
    execution = pipeline.start()
    execution.wait()
    elapsed = time.monotonic() - started
    client = sagemaker.Session().sagemaker_client
    jobs = 0.0
    for step in execution.list_steps():
        metadata = step.get("Metadata", {})
        if "ProcessingJob" in metadata:
            job = client.describe_processing_job(ProcessingJobName=metadata["ProcessingJob"]["Arn"].split("/")[-1])
            jobs += (job["ProcessingEndTime"] - job["CreationTime"]).total_seconds()
        if "TrainingJob" in metadata:
            job = client.describe_training_job(TrainingJobName=metadata["TrainingJob"]["Arn"].split("/")[-1])
            jobs += (job["TrainingEndTime"] - job["CreationTime"]).total_seconds()
    return elapsed, jobs


def measure(hold: float, durations: list[int]) -> dict[int, tuple[float, float]]:
    results = {}
    with running({"SMLOCAL_SDK_DESCRIBE_WAIT": str(hold)}) as emu, tempfile.TemporaryDirectory() as tmp:
        point_sdk_at(emu.env(), Path(tmp))
        emu.s3().create_bucket(Bucket="bench")
        for seconds in durations:
            results[seconds] = run_pipeline(seconds, f"bench-{seconds}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--durations", type=int, nargs="+", default=[1, 12])
    parser.add_argument("--hold", type=float, help="measure one setting (in a process of its own) as JSON")
    args = parser.parse_args()
    if args.hold is not None:
        print("RESULT " + json.dumps(measure(args.hold, args.durations)))
        return
    images.build_sleep()
    results: dict[str, dict[str, list[float]]] = {}
    for label, hold in (("on", 60.0), ("off", 0.0)):   # a fresh process each: the SDK caches its clients
        done = subprocess.run([sys.executable, "-m", "bench.pipeline_waiting", "--hold", str(hold), "--durations",
                               *map(str, args.durations)], capture_output=True, text=True, check=True)
        line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
        results[label] = json.loads(line[len("RESULT "):])
    print("\n| each job sleeps | sum of the jobs' run times (on / off) | wait(), hold on | wait(), hold off |")
    print("|---|---|---|---|")
    for seconds in args.durations:
        (on, jobs_on), (off, jobs_off) = results["on"][str(seconds)], results["off"][str(seconds)]
        print(f"| {seconds} s | {jobs_on:.1f} s / {jobs_off:.1f} s | {on:.1f} s (+{on - jobs_on:.1f} s) | "
              f"{off:.1f} s (+{off - jobs_off:.1f} s) |")


if __name__ == "__main__":
    main()
