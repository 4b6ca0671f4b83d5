"""`kill -9` of the gateway in each phase of a job (Downloading, Training, Uploading) and of an endpoint
(Creating, InService): after `smlocal up` every resource ends in its correct state, with complete logs
and no debris (work directories, .part files, multipart uploads, containers, networks, model
directories). Real CLI processes and Docker (issue 18, "Done when")."""

from __future__ import annotations

import collections
import io
import json
import os
import signal
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import docker
import pytest
from hosting_support import deploy, wait_endpoint
from support import free_port
from test_cli import exported, smlocal

from emulator.jobs.network_pool import POOL_LABEL, VARIANT_LABEL
from emulator.procs import pid_alive

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "sagemaker-us-east-1-123456789012"
GROUP = "/aws/sagemaker/TrainingJobs"


@pytest.fixture(scope="module")
def instance(tmp_path_factory, require_docker):
    data_dir = tmp_path_factory.mktemp("kill-phases")
    ports = ["--port", str(free_port()), "--s3-port", str(free_port())]
    env = {"SMLOCAL_STOP_GRACE_SECONDS": "2"}
    up = smlocal("up", "--detach", *ports, data_dir=data_dir, env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    exports = exported(smlocal("env", data_dir=data_dir).stdout)
    clients = {name: boto3.client(name, endpoint_url=exports["AWS_ENDPOINT_URL_S3" if name == "s3" else
                                                              "AWS_ENDPOINT_URL"], region_name="us-east-1",
                                  aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                                  aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
               for name in ("sagemaker", "sagemaker-runtime", "logs", "s3")}
    yield {"dir": data_dir, "ports": ports, "env": env, **clients}
    smlocal("down", data_dir=data_dir)
    # `smlocal down` removes the spare job networks (jobs/network_pool.py) with the gateway
    assert not docker.from_env().networks.list(filters={"label": f"{POOL_LABEL}={data_dir.resolve()}"})


def kill_and_restart(instance) -> None:
    pid = json.loads((instance["dir"] / "runtime.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    up = smlocal("up", "--detach", *instance["ports"], data_dir=instance["dir"], env=instance["env"])
    assert up.returncode == 0, up.stdout + up.stderr


def until(check, timeout: float = 120, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(every)
    raise AssertionError("timed out")


def start_job(instance, name: str, base_image: str, script: str, **extra) -> None:
    instance["sagemaker"].create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": base_image, "TrainingInputMode": "File",
                                "ContainerEntrypoint": ["sh", "-c", script]},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/kill"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600}, **extra)


def finished(instance, name: str) -> dict:
    sm = instance["sagemaker"]
    return until(lambda: (j := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] not in
                 ("InProgress", "Stopping") and j, every=0.2)


def log_lines(instance, name: str) -> list[str]:
    logs = instance["logs"]
    try:
        streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=name + "/")["logStreams"]
    except logs.exceptions.ResourceNotFoundException:   # no job has logged yet: the group comes with the first line
        return []
    return [e["message"] for s in streams
            for e in logs.get_log_events(logGroupName=GROUP, logStreamName=s["logStreamName"],
                                         startFromHead=True)["events"]]


def assert_no_job_debris(instance, name: str) -> None:
    """The job's cleanup runs right after its final status is written: give it a few seconds."""
    engine = docker.from_env()
    label = f"org.smlocal.job={name}"
    until(lambda: not (instance["dir"] / "jobs" / "training" / name.lower()).exists(), timeout=30, every=0.2)
    assert not engine.containers.list(all=True, filters={"label": label})
    assert not engine.networks.list(filters={"label": label})
    # a network the job took from the pool (jobs/network_pool.py) carries the pool's labels, not the job's:
    # after the job, the pool holds at most its spares (2 per kind)
    pool = f"{POOL_LABEL}={instance['dir'].resolve()}"
    until(lambda: all(n <= 2 for n in collections.Counter(
        n.attrs["Labels"].get(VARIANT_LABEL) for n in engine.networks.list(filters={"label": pool})).values()),
        timeout=30, every=0.2)
    assert instance["s3"].list_multipart_uploads(Bucket=BUCKET, Prefix=f"kill/{name}/").get("Uploads", []) == []


def test_killed_while_downloading(instance, base_image):
    name = f"kill-downloading-{os.getpid()}"
    s3 = instance["s3"]
    blob = os.urandom(2 * 1024 * 1024)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=BUCKET, Key=f"kill-input/{name}/obj-{i:03d}.bin", Body=blob),
                      range(120)))
    start_job(instance, name, base_image,
              "d=/opt/ml/input/data/train; echo files=$(ls -A $d | wc -l) parts=$(ls -A $d | grep -c '[.]part$'); "
              "echo done > /opt/ml/model/done.txt; echo done",
              InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
                  "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/kill-input/{name}"}}}])
    channel = instance["dir"] / "jobs" / "training" / name.lower() / "channels" / "train" / "all"
    until(lambda: channel.is_dir() and any(p.name.endswith(".part") for p in channel.iterdir()))
    kill_and_restart(instance)                                  # a .part file is on disk: mid-download
    job = finished(instance, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert log_lines(instance, name) == ["files=120 parts=0", "done"]
    assert_no_job_debris(instance, name)


def test_killed_while_training(instance, base_image):
    name = f"kill-training-{os.getpid()}"
    start_job(instance, name, base_image,
              "for i in $(seq 0 19); do echo tick $i; sleep 0.2; done; echo trained > /opt/ml/model/m.txt")
    until(lambda: any(line == "tick 3" for line in log_lines(instance, name)), every=0.2)
    kill_and_restart(instance)
    job = finished(instance, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert log_lines(instance, name) == [f"tick {i}" for i in range(20)]
    assert_no_job_debris(instance, name)


def test_killed_while_uploading(instance, base_image):
    name = f"kill-uploading-{os.getpid()}"
    start_job(instance, name, base_image,
              "head -c 150000000 /dev/urandom > /opt/ml/model/big.bin; echo wrote")
    sm, s3 = instance["sagemaker"], instance["s3"]
    until(lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Uploading", every=0.05)
    until(lambda: s3.list_multipart_uploads(Bucket=BUCKET, Prefix=f"kill/{name}/").get("Uploads"), timeout=60)
    kill_and_restart(instance)                                  # a multipart upload is under way
    job = finished(instance, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert log_lines(instance, name) == ["wrote"]
    head = s3.head_object(Bucket=BUCKET, Key=f"kill/{name}/output/model.tar.gz")
    assert head["ContentLength"] > 150_000_000
    assert_no_job_debris(instance, name)


def model_tarball(size: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=1) as tar:
        data = os.urandom(size)
        member = tarfile.TarInfo("weights.bin")
        member.size = len(data)
        tar.addfile(member, io.BytesIO(data))
        text = b"kill-test-model"
        member = tarfile.TarInfo("model.txt")
        member.size = len(text)
        tar.addfile(member, io.BytesIO(text))
    return out.getvalue()


def endpoint_dirs(instance, name: str) -> list[str]:
    root = instance["dir"] / "endpoints" / name.lower()
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def endpoint_debris(instance, name: str) -> tuple[list, list, list[str]]:
    engine = docker.from_env()
    labels = ["org.smlocal.kind=endpoint", f"org.smlocal.endpoint={name}"]
    return (engine.containers.list(all=True, filters={"label": labels}),
            engine.networks.list(filters={"label": labels}), endpoint_dirs(instance, name))


def test_killed_while_an_endpoint_is_created_and_in_service(instance, serve_image):
    name = f"kill-endpoint-{os.getpid()}"
    sm, runtime = instance["sagemaker"], instance["sagemaker-runtime"]
    instance["s3"].put_object(Bucket=BUCKET, Key=f"kill-models/{name}/model.tar.gz", Body=model_tarball(100 << 20))
    created = deploy(sm, name, serve_image, model_data=f"s3://{BUCKET}/kill-models/{name}/model.tar.gz",
                     wait=False)
    assert created["EndpointStatus"] == "Creating"
    until(lambda: endpoint_dirs(instance, name))              # its model is being fetched
    kill_and_restart(instance)                                 # Creating
    assert wait_endpoint(sm, name)["EndpointStatus"] == "InService"
    answer = runtime.invoke_endpoint(EndpointName=name, Body=b"1,2", ContentType="text/csv")
    assert b"kill-test-model" in answer["Body"].read()
    containers, networks, dirs = endpoint_debris(instance, name)
    assert len(containers) == 1 and len(dirs) == 1             # the cut-short deployment left nothing

    kill_and_restart(instance)                                 # InService
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    assert runtime.invoke_endpoint(EndpointName=name, Body=b"1,2", ContentType="text/csv")["Body"].read()
    assert [c.id for c in endpoint_debris(instance, name)[0]] == [c.id for c in containers]   # reattached
    assert endpoint_debris(instance, name)[2] == dirs

    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert endpoint_debris(instance, name) == ([], [], [])
    assert not Path(instance["dir"] / "endpoints" / name.lower()).exists()
