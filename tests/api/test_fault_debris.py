"""Debris after faults (issue 18, finding 6), on the in-memory container runtime with a real S3 server:
what a crash or ``smlocal down`` leaves (isolation networks, model directories, partly staged
``.part`` files, incomplete multipart uploads) is cleaned up by the next start or run."""

from __future__ import annotations

import threading

import boto3
import pytest
from fake_runtime import FakeRuntime, runs_until_stopped, serves
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway, wait_for

from emulator.config import S3Settings
from emulator.hosting.fleet import stop_all

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "fake-debris"
RELEASE = threading.Event()


def _checkpoints(process) -> int:
    (process.path("/opt/ml/checkpoints") / "state.pt").write_bytes(b"state")
    (process.path("/opt/ml/model") / "model.bin").write_bytes(b"weights")
    return 0


def _lists_its_input(process) -> int:
    channel = process.path("/opt/ml/input/data/train")
    names = sorted(p.name for p in channel.rglob("*") if p.is_file())
    (process.path("/opt/ml/model") / "seen.txt").write_text("\n".join(names))
    process.log("seen: " + ",".join(names))
    return 0


@pytest.fixture(scope="module")
def runtime() -> FakeRuntime:
    return FakeRuntime({"fake/serves:1": serves(), "fake/released:1": runs_until_stopped(release=RELEASE),
                        "fake/lists:1": _lists_its_input, "fake/checkpoints:1": _checkpoints})


@pytest.fixture(scope="module")
def s3_settings(embedded_s3) -> S3Settings:
    return S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)


@pytest.fixture(scope="module")
def s3(embedded_s3):
    client = boto3.client("s3", endpoint_url=embedded_s3.endpoint, region_name=REGION,
                          aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    return client



def isolated_endpoint(sm, name: str) -> None:
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, EnableNetworkIsolation=True,
                    PrimaryContainer={"Image": "fake/serves:1"})
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "main", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    record = wait_for(lambda: sm.describe_endpoint(EndpointName=name), "EndpointStatus", {"InService", "Failed"})
    assert record["EndpointStatus"] == "InService", record.get("FailureReason")


def in_service(sm, name: str) -> bool:
    record = wait_for(lambda: sm.describe_endpoint(EndpointName=name), "EndpointStatus", {"InService", "Failed"})
    return record["EndpointStatus"] == "InService"


def networks_of(runtime: FakeRuntime, endpoint: str) -> list[str]:
    return [n for n, info in runtime.networks.items() if info["labels"].get("org.smlocal.endpoint") == endpoint]


def test_isolated_endpoints_leak_no_network_across_down_up_and_crashes(tmp_path, runtime, s3_settings, unique):
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        isolated_endpoint(first.client("sagemaker"), unique)
    assert len(networks_of(runtime, unique)) == 1
    stop_all(runtime, tmp_path, grace=1)                                   # smlocal down
    assert networks_of(runtime, unique) == []
    for _ in range(2):
        with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as again:   # smlocal up
            assert in_service(again.client("sagemaker"), unique)
            wait_for(lambda: {"n": len(networks_of(runtime, unique))}, "n", {1})
        for container in [c for c in runtime.containers.values() if unique in c.spec.name]:
            runtime.remove(container.id)                                   # a crash: containers gone
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as last:
        sm = last.client("sagemaker")
        assert in_service(sm, unique)
        assert len(networks_of(runtime, unique)) == 1
        sm.delete_endpoint(EndpointName=unique)
        wait_for(lambda: {"n": len(networks_of(runtime, unique))}, "n", {0})


def test_model_directories_of_interrupted_starts_are_swept_at_start_up(tmp_path, runtime, s3_settings, unique):
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        isolated_endpoint(first.client("sagemaker"), unique)
    root = tmp_path / "endpoints" / unique.lower()
    (live,) = list(root.iterdir())
    cut_short = root / "0123456789ab" / "main" / "container-1"            # a start that never finished
    cut_short.mkdir(parents=True)
    (cut_short / "model.bin").write_bytes(b"weights")
    runtime.create_network(f"smlocal-ep-{unique}-0123456789ab", {
        "org.smlocal.kind": "endpoint", "org.smlocal.endpoint": unique, "org.smlocal.deployment": "0123456789ab",
        "org.smlocal.home": str(tmp_path.resolve())})
    orphan = tmp_path / "endpoints" / "deleted-long-ago" / "abc"
    orphan.mkdir(parents=True)
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        sm = second.client("sagemaker")
        assert in_service(sm, unique)
        assert sorted(p.name for p in root.iterdir()) == [live.name]
        assert not orphan.parent.exists()
        assert networks_of(runtime, unique) == [f"smlocal-ep-{unique}-{live.name}"]
        sm.delete_endpoint(EndpointName=unique)


def training(name: str, image: str, **extra) -> dict:
    return {"TrainingJobName": name, "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}, **extra}


def test_a_restarted_job_never_sees_the_part_files_of_a_staging_cut_short(tmp_path, runtime, s3_settings, s3,
                                                                           unique):
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/train/data.csv", Body=b"1,2\n")
    channel = {"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{unique}/train"}}}
    RELEASE.clear()
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime, max_concurrent_jobs=1) as first:
        sm = first.client("sagemaker")
        sm.create_training_job(**training(unique + "-a", "fake/released:1"))       # holds the only slot
        wait_for(lambda: sm.describe_training_job(TrainingJobName=unique + "-a"), "SecondaryStatus", {"Training"})
        sm.create_training_job(**training(unique + "-b", "fake/lists:1", InputDataConfig=[channel]))
    # what a crash while job b downloaded leaves: a pre-sized part file in its channel directory
    staged = tmp_path / "jobs" / "training" / (unique + "-b").lower() / "channels" / "train" / "all"
    staged.mkdir(parents=True)
    (staged / ".smlocal-0123abcd.part").write_bytes(b"\0" * 4096)
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime, max_concurrent_jobs=2) as second:
        sm = second.client("sagemaker")
        job = wait_for(lambda: sm.describe_training_job(TrainingJobName=unique + "-b"), "TrainingJobStatus",
                       {"Completed", "Failed", "Stopped"})
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        logs = second.client("logs")
        streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                            logStreamNamePrefix=unique + "-b")["logStreams"]
        events = logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                     logStreamName=streams[0]["logStreamName"])["events"]
        assert [e["message"] for e in events] == ["seen: data.csv"]
        RELEASE.set()
        wait_for(lambda: sm.describe_training_job(TrainingJobName=unique + "-a"), "TrainingJobStatus", {"Completed"})


def test_incomplete_multipart_uploads_of_a_cut_short_upload_are_aborted(gw_plain, s3, unique):
    """A crash while a job uploaded left parts of its model.tar.gz and of a checkpoint; the run that
    uploads them again aborts those uploads."""
    model_key = f"out/{unique}/output/model.tar.gz"
    checkpoint_key = f"{unique}/ckpt/state.pt"
    for key in (model_key, checkpoint_key):
        upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)
        s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload["UploadId"], PartNumber=1, Body=b"x" * 1024)
    pending = s3.list_multipart_uploads(Bucket=BUCKET, Prefix=unique).get("Uploads", []) + \
        s3.list_multipart_uploads(Bucket=BUCKET, Prefix=f"out/{unique}/").get("Uploads", [])
    assert len(pending) == 2
    sm = gw_plain.client("sagemaker")
    sm.create_training_job(**training(unique, "fake/checkpoints:1",
                                      CheckpointConfig={"S3Uri": f"s3://{BUCKET}/{unique}/ckpt"}))
    job = wait_for(lambda: sm.describe_training_job(TrainingJobName=unique), "TrainingJobStatus",
                   {"Completed", "Failed", "Stopped"})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert s3.list_multipart_uploads(Bucket=BUCKET, Prefix=f"out/{unique}/").get("Uploads", []) == []
    assert s3.list_multipart_uploads(Bucket=BUCKET, Prefix=f"{unique}/").get("Uploads", []) == []
    assert s3.get_object(Bucket=BUCKET, Key=checkpoint_key)["Body"].read() == b"state"


@pytest.fixture(scope="module")
def gw_plain(tmp_path_factory, runtime, s3_settings, s3):
    with live_gateway(tmp_path_factory.mktemp("debris"), s3=s3_settings, containers=runtime) as gateway:
        yield gateway


def test_networks_of_ended_jobs_are_swept_at_start_up(tmp_path, runtime, s3_settings, s3, unique):
    """A crash between a job's last status and its cleanup leaves its network; a network of a job this
    instance does not know (another smlocal's, on the same Docker) is left alone."""
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        sm = first.client("sagemaker")
        sm.create_training_job(**training(unique, "fake/checkpoints:1",
                                          CheckpointConfig={"S3Uri": f"s3://{BUCKET}/{unique}/ckpt"}))
        wait_for(lambda: sm.describe_training_job(TrainingJobName=unique), "TrainingJobStatus", {"Completed"})
    runtime.create_network(f"smlocal-train-{unique}", {"org.smlocal.kind": "training-job", "org.smlocal.job": unique})
    runtime.create_network(f"smlocal-train-{unique}-x", {"org.smlocal.kind": "training-job",
                                                          "org.smlocal.job": unique + "-elsewhere"})
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime):
        assert f"smlocal-train-{unique}" not in runtime.networks
        assert f"smlocal-train-{unique}-x" in runtime.networks
    runtime.remove_network(f"smlocal-train-{unique}-x")
