"""Hostile containers and artifacts against a live gateway (the in-memory container runtime, real S3):
a container's links never make smlocal read or upload a host file, and a crafted model.tar.gz fails
its endpoint without writing outside smlocal's directories (issue 18, findings 1, 2 and 6)."""

from __future__ import annotations

import io
import os
import tarfile
import threading
import time
from pathlib import Path

import boto3
import pytest
from fake_runtime import FakeRuntime, serves
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway, wait_for

from emulator.config import S3Settings

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "fake-hostile"
SECRET = "host-secret-content-0xC0FFEE"
HOST_DIR: Path = Path()          # set by the module fixture: files only the host has
SWAPPED = threading.Event()


def _links_failure(process) -> int:
    """`ln -s <host file> /opt/ml/output/failure; exit 1`."""
    os.symlink(HOST_DIR / "secret.txt", process.path("/opt/ml/output") / "failure")
    process.log("linked")
    return 1


def _links_outputs(process) -> int:
    """Every output place made a link to host files; exits 0 so that everything is uploaded."""
    model = process.path("/opt/ml/model")
    (model / "weights.bin").write_bytes(b"weights")
    os.symlink(HOST_DIR / "secret.txt", model / "stolen.txt")
    os.symlink("../../../../../../../../../../../.." + str(HOST_DIR / "secret.txt"), model / "climb.txt")
    output = process.path("/opt/ml/output")
    os.rmdir(output / "data")
    os.symlink(HOST_DIR, output / "data")                 # the whole directory swapped for a link
    checkpoints = process.path("/opt/ml/checkpoints")
    os.symlink(HOST_DIR / "secret.txt", checkpoints / "ckpt.pt")
    return 0


def _processing_links(process) -> int:
    out = process.path("/opt/ml/processing/output")
    os.rmdir(out)
    os.symlink(HOST_DIR, out)
    os.symlink(HOST_DIR / "secret.txt", process.path("/opt/ml/output") / "message")
    return 0


def _swaps_during_continuous_upload(process) -> int:
    """Writes a file, lets the continuous upload see it settle, then swaps it for a link to a host file."""
    out = process.path("/opt/ml/processing/output")
    (out / "part-1.csv").write_text("one")
    (out / "part-2.csv").write_text("two")
    time.sleep(1.5)
    (out / "part-2.csv").unlink()
    os.symlink(HOST_DIR / "secret.txt", out / "part-2.csv")
    os.symlink("part-3.csv", out / "part-3.csv")          # a link to itself (a loop)
    for _ in range(30):                              # several polls see the link
        os.utime(out / "part-1.csv")
        time.sleep(0.1)
    SWAPPED.set()
    return 0


@pytest.fixture(scope="module")
def runtime() -> FakeRuntime:
    return FakeRuntime({
        "fake/links-failure:1": _links_failure,
        "fake/links-outputs:1": _links_outputs,
        "fake/processing-links:1": _processing_links,
        "fake/swaps:1": _swaps_during_continuous_upload,
        "fake/serves:1": serves(),
    })


@pytest.fixture(scope="module")
def s3(embedded_s3):
    client = boto3.client("s3", endpoint_url=embedded_s3.endpoint, region_name=REGION,
                          aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def gw(tmp_path_factory, runtime, embedded_s3, s3):
    global HOST_DIR
    HOST_DIR = tmp_path_factory.mktemp("host-only")
    (HOST_DIR / "secret.txt").write_text(SECRET)
    settings = S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)
    with live_gateway(tmp_path_factory.mktemp("hostile"), s3=settings, containers=runtime,
                      stop_grace_seconds=2) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def sm(gw):
    return gw.client("sagemaker")



def all_objects(s3, prefix: str) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listing}


def tar_contents(data: bytes) -> dict[str, bytes | str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: (tar.extractfile(m).read() if m.isfile() else f"-> {m.linkname}" if m.issym() else "dir")
                for m in tar.getmembers()}


def training(sm, name: str, image: str, **extra) -> dict:
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600}, **extra)
    return wait_for(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus",
                    {"Completed", "Failed", "Stopped"})


def test_a_failure_file_linked_to_a_host_file_is_not_read(sm, unique) -> None:
    job = training(sm, unique, "fake/links-failure:1")
    assert job["TrainingJobStatus"] == "Failed"
    assert SECRET not in job["FailureReason"]
    assert job["FailureReason"] == (
        "AlgorithmError: algo-1 exited with code 1 and its /opt/ml/output/failure is not a regular file "
        "(smlocal does not follow links). Last log lines:\nlinked")


def test_links_in_model_output_and_checkpoints_never_upload_host_files(sm, s3, unique) -> None:
    job = training(sm, unique, "fake/links-outputs:1",
                   CheckpointConfig={"S3Uri": f"s3://{BUCKET}/{unique}/ckpt"})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    objects = all_objects(s3, f"out/{unique}/")
    assert set(objects) == {f"out/{unique}/output/model.tar.gz"}          # output/data was a link: nothing
    model = tar_contents(objects[f"out/{unique}/output/model.tar.gz"])
    assert model == {"weights.bin": b"weights"}                          # both outward links dropped
    assert all_objects(s3, f"{unique}/ckpt/") == {}


def test_processing_outputs_and_message_linked_outside_are_not_read(sm, s3, unique) -> None:
    sm.create_processing_job(
        ProcessingJobName=unique, RoleArn=ROLE, AppSpecification={"ImageUri": "fake/processing-links:1"},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 1}},
        ProcessingOutputConfig={"Outputs": [{"OutputName": "result", "S3Output": {
            "S3Uri": f"s3://{BUCKET}/{unique}/out", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "EndOfJob"}}]})
    job = wait_for(lambda: sm.describe_processing_job(ProcessingJobName=unique), "ProcessingJobStatus",
                   {"Completed", "Failed", "Stopped"})
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert "ExitMessage" not in job
    assert all_objects(s3, f"{unique}/out/") == {}


def test_a_file_swapped_for_a_link_during_a_continuous_upload_is_ignored(sm, s3, unique) -> None:
    SWAPPED.clear()
    sm.create_processing_job(
        ProcessingJobName=unique, RoleArn=ROLE, AppSpecification={"ImageUri": "fake/swaps:1"},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 1}},
        ProcessingOutputConfig={"Outputs": [{"OutputName": "result", "S3Output": {
            "S3Uri": f"s3://{BUCKET}/{unique}/out", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "Continuous"}}]})
    job = wait_for(lambda: sm.describe_processing_job(ProcessingJobName=unique), "ProcessingJobStatus",
                   {"Completed", "Failed", "Stopped"})
    assert SWAPPED.is_set()
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    objects = all_objects(s3, f"{unique}/out/")
    assert objects[f"{unique}/out/part-1.csv"] == b"one"
    assert SECRET.encode() not in b"".join(objects.values())


# --- model data -----------------------------------------------------------------------------------------
def cve_2025_4517_model(depth_hint: int) -> bytes:
    """CPython's CVE-2025-4517 reproducer as a model.tar.gz: escape/newfile lands beside the model
    directory where tarfile's ``data`` filter is bypassable."""
    steps = "abcdefghijklmnop"
    component = "d" * ((4096 - depth_hint - 1) // (len(steps) + 1))
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, kind: bytes, link: str = "", data: bytes = b"") -> None:
            member = tarfile.TarInfo(name)
            member.type, member.linkname, member.size = kind, link, len(data)
            tar.addfile(member, io.BytesIO(data) if data else None)
        path = ""
        for step in steps:
            add(os.path.join(path, component), tarfile.DIRTYPE)
            add(os.path.join(path, step), tarfile.SYMTYPE, component)
            path = os.path.join(path, component)
        linkpath = os.path.join(*steps, "l" * 254)
        add(linkpath, tarfile.SYMTYPE, os.path.join(*([".."] * len(steps))))
        add("escape", tarfile.SYMTYPE, os.path.join(linkpath, ".."))
        add("escape/newfile", tarfile.REGTYPE, data=b"written outside")
    return out.getvalue()


def test_an_endpoint_from_a_hostile_model_tarball_fails_and_writes_nothing_outside(gw, sm, s3, unique) -> None:
    data_dir = gw.settings.data_dir
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/model.tar.gz",
                  Body=cve_2025_4517_model(len(str(data_dir)) + 80))
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": "fake/serves:1", "ModelDataUrl": f"s3://{BUCKET}/{unique}/model.tar.gz"})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[{
        "VariantName": "main", "ModelName": unique, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    record = wait_for(lambda: sm.describe_endpoint(EndpointName=unique), "EndpointStatus", {"InService", "Failed"})
    assert record["EndpointStatus"] == "Failed"
    assert record["FailureReason"].startswith(
        f"Model data s3://{BUCKET}/{unique}/model.tar.gz contains an unsafe member: ")
    assert "passes through the symbolic link 'a'" in record["FailureReason"]
    assert not [p for p in data_dir.parent.rglob("newfile")]
