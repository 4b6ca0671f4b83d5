"""Hostile containers in real Docker (issue 18, finding 2): a training container that links
/opt/ml/output/failure, its model and its output data to host paths gets none of the host's content
into its FailureReason or its artifacts."""

from __future__ import annotations

import io
import tarfile
import time

import pytest

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SECRET = "host-only-secret-7f3a"


def run(sm, name: str, image: str, bucket: str, script: str) -> dict:
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File",
                                "ContainerEntrypoint": ["sh", "-c", script]},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/hostile"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 120})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.2)
    raise AssertionError(job)


def test_links_to_host_files_leak_nothing(jobs_gateway, s3, bucket, base_image, tmp_path, unique):
    host_file = tmp_path / "secret.txt"                # exists on the host only, not in the container
    host_file.write_text(SECRET)
    sm = jobs_gateway.client("sagemaker")
    failed = run(sm, unique + "-f", base_image, bucket, f"ln -s {host_file} /opt/ml/output/failure; exit 1")
    assert failed["TrainingJobStatus"] == "Failed"
    assert SECRET not in failed["FailureReason"]
    assert "its /opt/ml/output/failure is not a regular file (smlocal does not follow links)" in failed["FailureReason"]

    done = run(sm, unique, base_image, bucket,
               f"echo w > /opt/ml/model/w.txt; ln -s {host_file} /opt/ml/model/stolen.txt; "
               f"rm -rf /opt/ml/output/data; ln -s {tmp_path} /opt/ml/output/data")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    body = s3.get_object(Bucket=bucket, Key=f"hostile/{unique}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert [m.name for m in tar.getmembers()] == ["w.txt"]
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"hostile/{unique}/")["Contents"]
    assert [o["Key"] for o in listing] == [f"hostile/{unique}/output/model.tar.gz"]
