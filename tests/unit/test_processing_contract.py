"""The processing container contract and CreateProcessingJob's checks as pure data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.domain.processing import _check_supported, _with_defaults
from emulator.errors import ResourceLimitExceeded, ValidationException
from emulator.infra.continuous_upload import ContinuousUploads
from emulator.infra.platform import PlatformEnv
from emulator.jobs import processing_contract as contract

ARN = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/proc-1"
REQUEST = {
    "ProcessingJobName": "proc-1", "RoleArn": "arn:aws:iam::123456789012:role/R",
    "AppSpecification": {"ImageUri": "my-image:1", "ContainerArguments": ["--x", "1"]},
    "Environment": {"K": "V", "AWS_REGION": "user-wins"},
    "ProcessingInputs": [{"InputName": "data", "S3Input": {"S3Uri": "s3://b/in", "LocalPath": "/opt/ml/processing/in",
                                                           "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
    "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
        "S3Uri": "s3://b/out", "LocalPath": "/opt/ml/processing/out", "S3UploadMode": "EndOfJob"}}]},
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 11, "InstanceType": "ml.m5.xlarge",
                                              "VolumeSizeInGB": 30}},
}
JOB = {**_with_defaults(REQUEST), "ProcessingJobArn": ARN}
PLATFORM = PlatformEnv("eu-west-1", "http://host.docker.internal:4598", "AK", "SK")


@pytest.mark.parametrize(("local_path", "relative"), [
    ("/opt/ml/processing/input", "input"), ("/opt/ml/processing/input/data/", "input/data"),
    ("/opt/ml/processing/a//b/./c", "a/b/c"), ("/opt/ml/processing", None), ("/opt/ml/processing/", None),
    ("/opt/ml/processing/../etc", None), ("/opt/ml/processing/a/../../x", None), ("/tmp/x", None),
    ("opt/ml/processing/x", None), ("/opt/ml/processingx/y", None), ("/opt/ml/processing/a\x00b", None),
])
def test_local_paths_must_stay_below_opt_ml_processing(local_path, relative):
    assert contract.local_relative(local_path) == relative


def test_defaults_describe_shows():
    assert JOB["ProcessingInputs"] == [{"InputName": "data", "AppManaged": False, "S3Input": {
        "S3Uri": "s3://b/in", "LocalPath": "/opt/ml/processing/in", "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}}]
    assert JOB["ProcessingOutputConfig"]["Outputs"][0]["AppManaged"] is False
    assert JOB["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert JOB["ProcessingJobStatus"] == "InProgress"


def test_config_files_echo_the_request_with_nulls():
    files = {name: json.loads(text) for name, text in contract.config_files(JOB, "algo-2").items()}
    assert files["resourceconfig.json"] == {"current_host": "algo-2", "hosts": [
        "algo-1", "algo-10", "algo-11", "algo-2", "algo-3", "algo-4", "algo-5", "algo-6", "algo-7", "algo-8",
        "algo-9"]}
    config = files["processingjobconfig.json"]
    assert config["AppSpecification"] == {"ImageUri": "my-image:1", "ContainerEntrypoint": None,
                                          "ContainerArguments": ["--x", "1"]}
    assert config["ProcessingOutputConfig"]["KmsKeyId"] is None
    assert config["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] is None
    assert config["ProcessingInputs"] == JOB["ProcessingInputs"]
    assert config["ProcessingJobArn"] == ARN and config["NetworkConfig"] is None


def test_command_follows_docker_override_rules():
    assert contract.command({"AppSpecification": {"ImageUri": "i"}}) == (None, None)
    assert contract.command({"AppSpecification": {"ImageUri": "i", "ContainerArguments": ["a"]}}) == (None, ["a"])
    assert contract.command({"AppSpecification": {"ImageUri": "i", "ContainerEntrypoint": ["python3", "x.py"]}}) \
        == (["python3", "x.py"], None)


def test_container_spec_mounts_one_processing_root_and_only_platform_env(tmp_path):
    layout = contract.HostLayout(tmp_path / "algo-1")
    spec = contract.container_spec(JOB, "algo-1", "my-image:1", layout, PLATFORM, (2_000_000_000, 2**30), "compose")
    assert spec.command == ["--x", "1"] and spec.entrypoint is None
    assert spec.binds == [(str(layout.config), "/opt/ml/config", False), (str(layout.output), "/opt/ml/output", False),
                          (str(layout.processing), "/opt/ml/processing", False)]
    assert spec.environment["K"] == "V" and spec.environment["AWS_REGION"] == "user-wins"
    assert not [k for k in spec.environment if k.startswith(("SM_", "TRAINING_", "PROCESSING_"))]
    assert spec.hostname == "algo-1" and spec.network == "smlocal-proc-proc-1" and spec.extra_networks == ["compose"]
    assert spec.labels == {"org.smlocal.kind": "processing-job", "org.smlocal.job": "proc-1",
                           "org.smlocal.host": "algo-1"}
    assert layout.local("/opt/ml/processing/in/x") == layout.processing / "in" / "x"
    isolated = {**JOB, "NetworkConfig": {"EnableNetworkIsolation": True}}
    spec = contract.container_spec(isolated, "algo-1", "i", layout, PLATFORM, (None, None), "compose")
    assert spec.extra_networks == [] and spec.extra_hosts == {}


def _request(**changes):
    return {**REQUEST, **changes}


def test_create_rejects_what_smlocal_cannot_run():
    gzip = {"InputName": "z", "S3Input": {"S3Uri": "s3://b/z", "LocalPath": "/opt/ml/processing/z",
                                          "S3DataType": "S3Prefix", "S3CompressionType": "Gzip"}}
    with pytest.raises(ValidationException, match="S3CompressionType Gzip is only valid with S3InputMode Pipe"):
        _check_supported(_request(ProcessingInputs=[gzip]))
    twice = REQUEST["ProcessingInputs"] * 2
    with pytest.raises(ValidationException, match="Input names must be unique: data appears more than once."):
        _check_supported(_request(ProcessingInputs=twice))
    http = {"InputName": "h", "S3Input": {**gzip["S3Input"], "S3CompressionType": "None", "S3Uri": "https://x/y"}}
    with pytest.raises(ValidationException, match="smlocal reads s3:// URIs only"):
        _check_supported(_request(ProcessingInputs=[http]))
    bad_output = {"Outputs": [{"OutputName": "o", "S3Output": {"S3Uri": "s3://b/o", "LocalPath": "/opt/ml/model",
                                                                "S3UploadMode": "EndOfJob"}}]}
    with pytest.raises(ValidationException, match="ProcessingOutput o S3Output.LocalPath must be a directory"):
        _check_supported(_request(ProcessingOutputConfig=bad_output))
    many = {"ClusterConfig": {"InstanceCount": 17, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}}
    with pytest.raises(ResourceLimitExceeded):
        _check_supported(_request(ProcessingResources=many))
    app_managed = {"InputName": "a", "AppManaged": True, "S3Input": {**http["S3Input"], "LocalPath": "/anywhere"}}
    _check_supported(_request(ProcessingInputs=[app_managed]))   # the container fetches it itself


class _FakeS3:
    """Records put_object calls (key -> bytes): enough of S3Client for the uploader."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.raw = self

    def put_object(self, bucket, key, data, length, **_):
        self.objects[f"{bucket}/{key}"] = data.read(length)


def test_continuous_uploads_wait_for_files_to_settle(tmp_path: Path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    uploads, s3 = ContinuousUploads(poll_seconds=0), _FakeS3()
    uploads.watch([out], "s3://bkt/prefix")
    (out / "sub" / "a.txt").write_text("a1")
    assert uploads.upload_settled(s3) == 0                     # first sight: maybe still being written
    assert uploads.upload_settled(s3) == 1 and s3.objects == {"bkt/prefix/sub/a.txt": b"a1"}
    assert uploads.upload_settled(s3) == 0                     # unchanged: not again
    (out / "sub" / "a.txt").write_text("a2-longer")
    (out / "b.txt").write_text("b")
    assert uploads.upload_settled(s3) == 0
    assert uploads.upload_settled(s3) == 2 and s3.objects["bkt/prefix/sub/a.txt"] == b"a2-longer"
    (out / "c.txt").write_text("c")
    assert uploads.upload_settled(s3, final=True) == 1 and s3.objects["bkt/prefix/c.txt"] == b"c"


def test_network_isolation_withholds_the_s3_endpoint_and_keys():
    isolated = contract.environment({**JOB, "NetworkConfig": {"EnableNetworkIsolation": True}}, PLATFORM)
    assert not [k for k in isolated if k.startswith(("AWS_ACCESS", "AWS_SECRET", "AWS_ENDPOINT", "S3_"))]
    assert "AWS_REGION" in isolated
    assert contract.environment(JOB, PLATFORM)["AWS_ACCESS_KEY_ID"]
