"""The emulator dies (kill -9) while a pipeline execution trains: on the next `smlocal up` the execution
resumes from its step records, the training job is reattached to its container (no second job), and the
steps after it run; the execution ends Succeeded."""

from __future__ import annotations

import json
import time

import pytest
from test_training_restart import instance, kill_gateway, restart  # noqa: F401 - the instance fixture

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def definition(image: str) -> dict:
    train = {"Name": "Train", "Type": "Training", "Arguments": {
        "RoleArn": ROLE, "HyperParameters": {"mode": "sleep", "seconds": "8"},
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://sagemaker-us-east-1-123456789012/pipeline-restart"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}
    model = {"Name": "MakeModel", "Type": "Model", "Arguments": {"ExecutionRoleArn": ROLE, "PrimaryContainer": {
        "Image": image, "ModelDataUrl": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}}}}
    return {"Version": "2020-12-01", "Parameters": [], "Steps": [train, model]}


def steps(sm, arn: str) -> dict[str, dict]:
    return {s["StepName"]: s for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)
            ["PipelineExecutionSteps"]}


def test_a_pipeline_execution_survives_a_killed_gateway(instance, train_image):  # noqa: F811
    sm = instance["sagemaker"]
    sm.create_pipeline(PipelineName="survivor", RoleArn=ROLE, PipelineDefinition=json.dumps(definition(train_image)))
    arn = sm.start_pipeline_execution(PipelineName="survivor")["PipelineExecutionArn"]
    deadline = time.monotonic() + 120
    while True:
        train = steps(sm, arn).get("Train")
        if train and train["StepStatus"] == "Executing":
            job = train["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
            if sm.describe_training_job(TrainingJobName=job)["SecondaryStatus"] == "Training":
                break
        assert time.monotonic() < deadline, steps(sm, arn)
        time.sleep(0.2)
    kill_gateway(instance)
    time.sleep(1.5)
    restart(instance)
    while True:
        record = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if record["PipelineExecutionStatus"] != "Executing":
            break
        assert time.monotonic() < deadline, steps(sm, arn)
        time.sleep(0.5)
    found = steps(sm, arn)
    assert record["PipelineExecutionStatus"] == "Succeeded", found
    assert found["Train"]["Metadata"]["TrainingJob"]["Arn"].endswith(f"/{job}")
    assert found["Train"]["AttemptCount"] == 1
    assert sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Completed"
    ident = arn.rsplit("/", 1)[1]
    assert [j["TrainingJobName"] for j in sm.list_training_jobs(NameContains=ident)["TrainingJobSummaries"]] == [job]
    assert found["MakeModel"]["StepStatus"] == "Succeeded"
