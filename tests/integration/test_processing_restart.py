"""The emulator dies (kill -9) while a processing job runs: on the next `smlocal up` the job is
reattached to its containers, finishes and uploads its outputs; a job whose containers vanished
fails with a reason. `smlocal logs` reads processing jobs too."""

from __future__ import annotations

import time

import docker
import pytest
from test_cli import smlocal
from test_training_restart import instance, kill_gateway, restart, running  # noqa: F401 - fixture

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sagemaker-us-east-1-123456789012"


def start_job(instance, name, image, seconds):  # noqa: F811 - instance is the imported fixture's value
    instance["sagemaker"].create_processing_job(
        ProcessingJobName=name, RoleArn=ROLE,
        AppSpecification={"ImageUri": image, "ContainerArguments": ["--mode", "sleep", "--seconds", str(seconds)]},
        ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
            "S3Uri": f"s3://{BUCKET}/restart-proc/{name}", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "EndOfJob"}}]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 5}})


def wait_status(sm, name, done, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sm.describe_processing_job(ProcessingJobName=name)
        if done(job):
            return job
        time.sleep(0.2)
    raise AssertionError(job)


def test_processing_job_survives_a_killed_gateway(instance, process_image):  # noqa: F811
    sm = instance["sagemaker"]
    start_job(instance, "proc-survivor", process_image, seconds=6)
    wait_status(sm, "proc-survivor", lambda j: running("proc-survivor"))
    time.sleep(1.5)
    kill_gateway(instance)
    time.sleep(1.5)
    restart(instance)
    job = wait_status(sm, "proc-survivor", lambda j: j["ProcessingJobStatus"] != "InProgress")
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    body = instance["s3"].get_object(Bucket=BUCKET, Key="restart-proc/proc-survivor/slept.txt")["Body"].read()
    assert body == b"slept 6 s"
    logs = smlocal("logs", "proc-survivor", data_dir=instance["dir"])
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    assert lines[0].startswith("process starting on algo-1") and lines[-1] == "process done on algo-1", lines
    assert not docker.from_env().containers.list(all=True, filters={"label": "org.smlocal.job=proc-survivor"})


def test_processing_job_whose_containers_vanished_fails_with_a_reason(instance, process_image):  # noqa: F811
    sm = instance["sagemaker"]
    start_job(instance, "proc-orphan", process_image, seconds=30)
    wait_status(sm, "proc-orphan", lambda j: running("proc-orphan"))
    kill_gateway(instance)
    for container in docker.from_env().containers.list(all=True, filters={"label": "org.smlocal.job=proc-orphan"}):
        container.remove(force=True)
    restart(instance)
    job = wait_status(sm, "proc-orphan", lambda j: j["ProcessingJobStatus"] != "InProgress")
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("InternalServerError: smlocal stopped while the job was InProgress and "
                                           "its containers are gone")
