"""The emulator dies (kill -9) while a transform job runs: on the next `smlocal up` the job reattaches
to its model container, transforms its objects again and completes; `smlocal logs` reads transform
jobs (container output and the data-log stream)."""

from __future__ import annotations

import time

import docker
import pytest
from test_cli import smlocal
from test_training_restart import instance, kill_gateway, restart, running  # noqa: F401 - fixture

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sagemaker-us-east-1-123456789012"


def test_transform_job_survives_a_killed_gateway(instance, serve_image):  # noqa: F811
    sm, s3 = instance["sagemaker"], instance["s3"]
    s3.put_object(Bucket=BUCKET, Key="restart-tr/in/slow.txt", Body=b"sleep:4")
    sm.create_model(ModelName="tr-survivor", PrimaryContainer={"Image": serve_image}, ExecutionRoleArn=ROLE)
    sm.create_transform_job(
        TransformJobName="tr-survivor", ModelName="tr-survivor",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{BUCKET}/restart-tr/in/"}},
                        "ContentType": "text/plain"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/restart-tr/out/"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    deadline = time.monotonic() + 60
    while not running("tr-survivor"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(2)
    kill_gateway(instance)
    restart(instance)
    deadline = time.monotonic() + 90
    while (job := sm.describe_transform_job(TransformJobName="tr-survivor"))["TransformJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert s3.get_object(Bucket=BUCKET, Key="restart-tr/out/slow.txt.out")["Body"].read() == b"slept"
    logs = smlocal("logs", "tr-survivor", data_dir=instance["dir"])
    assert logs.returncode == 0, logs.stderr
    assert "[algo-1/data-log] [sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=6, " \
           "BatchStrategy=MULTI_RECORD" in logs.stdout.splitlines(), logs.stdout
    assert any(line.startswith("[algo-1] started as") for line in logs.stdout.splitlines()), logs.stdout
    assert not docker.from_env().containers.list(all=True, filters={"label": "org.smlocal.job=tr-survivor"})
