"""The emulator dies (kill -9) while a job runs: on the next `smlocal up` the job is reattached to
its containers and finishes normally, logs intact; a job whose containers vanished fails with a reason.
Also `smlocal logs`, from another shell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import boto3
import docker
import pytest
from support import free_port
from test_cli import exported, smlocal

from emulator.procs import pid_alive

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture
def instance(tmp_path, require_docker):
    ports = ["--port", str(free_port()), "--s3-port", str(free_port())]
    env = {"SMLOCAL_STOP_GRACE_SECONDS": "2"}
    up = smlocal("up", "--detach", *ports, data_dir=tmp_path, env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    exports = exported(smlocal("env", data_dir=tmp_path).stdout)
    clients = {name: boto3.client(name, endpoint_url=exports["AWS_ENDPOINT_URL_S3" if name == "s3" else
                                                              "AWS_ENDPOINT_URL"], region_name="us-east-1",
                                  aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
               for name in ("sagemaker", "logs", "s3")}
    yield {"dir": tmp_path, "ports": ports, "env": env, **clients}
    smlocal("down", data_dir=tmp_path)


def start_job(instance, name, image, seconds):
    instance["sagemaker"].create_training_job(
        TrainingJobName=name, RoleArn=ROLE, HyperParameters={"mode": "sleep", "seconds": str(seconds)},
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://sagemaker-us-east-1-123456789012/restart"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5})


def wait_status(sm, name, done, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sm.describe_training_job(TrainingJobName=name)
        if done(job):
            return job
        time.sleep(0.2)
    raise AssertionError(job)


def running(job: str) -> bool:
    return bool(docker.from_env().containers.list(filters={"label": f"org.smlocal.job={job}"}))


def kill_gateway(instance):
    runtime = json.loads((instance["dir"] / "runtime.json").read_text())
    os.kill(runtime["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(runtime["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)


def restart(instance):
    up = smlocal("up", "--detach", *instance["ports"], data_dir=instance["dir"], env=instance["env"])
    assert up.returncode == 0, up.stdout + up.stderr


def test_job_survives_a_killed_gateway(instance, train_image):
    sm = instance["sagemaker"]
    start_job(instance, "survivor", train_image, seconds=6)
    wait_status(sm, "survivor", lambda j: running("survivor"))
    time.sleep(1.5)
    kill_gateway(instance)
    time.sleep(1.5)  # the container keeps running (and printing) while nobody listens
    restart(instance)
    job = wait_status(sm, "survivor", lambda j: j["TrainingJobStatus"] != "InProgress")
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ModelArtifacts"]["S3ModelArtifacts"].endswith("/restart/survivor/output/model.tar.gz")
    logs = smlocal("logs", "survivor", data_dir=instance["dir"])
    assert logs.returncode == 0, logs.stderr
    lines = logs.stdout.splitlines()
    ticks = [line for line in lines if line.startswith("tick ")]
    assert ticks == [f"tick {i}" for i in range(len(ticks))] and len(ticks) >= 20, lines
    assert lines[0] == "starting on algo-1 with argv []" and lines[-1] == "done on algo-1"
    assert not docker.from_env().containers.list(all=True, filters={"label": "org.smlocal.job=survivor"})


def test_job_whose_containers_vanished_fails_with_a_reason(instance, train_image):
    sm = instance["sagemaker"]
    start_job(instance, "orphan", train_image, seconds=30)
    wait_status(sm, "orphan", lambda j: running("orphan"))
    kill_gateway(instance)
    for container in docker.from_env().containers.list(all=True, filters={"label": "org.smlocal.job=orphan"}):
        container.remove(force=True)
    restart(instance)
    job = wait_status(sm, "orphan", lambda j: j["TrainingJobStatus"] != "InProgress")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("InternalServerError: smlocal stopped while the job was Training and "
                                           "its containers are gone")


def test_logs_follow_from_another_shell(instance, train_image):
    start_job(instance, "followed", train_image, seconds=2)
    follow = subprocess.run([sys.executable, "-m", "emulator.cli.main", "logs", "followed", "--follow",
                             "--data-dir", str(instance["dir"])], capture_output=True, text=True, timeout=120)
    assert follow.returncode == 0, follow.stderr
    assert follow.stdout.splitlines()[-1] == "done on algo-1"
    assert "followed: Completed" in follow.stderr
    missing = smlocal("logs", "no-such-job", data_dir=instance["dir"])
    assert missing.returncode == 1
    assert "no training, processing or transform job named no-such-job" in " ".join(missing.stderr.split())
