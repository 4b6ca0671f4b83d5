"""User scripts in the framework images call plain `boto3.client("s3")`: the images carry a current
botocore (wheels fetched on the host, installed with --no-index), which reads AWS_ENDPOINT_URL_S3, so
the script reaches smlocal's S3 and not s3.amazonaws.com (issue 20; docs/images.md)."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.docker
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SCRIPT = """
import os, boto3, botocore
print("boto3", boto3.__version__, "botocore", botocore.__version__, flush=True)
s3 = boto3.client("s3")
bucket, prefix = os.environ["BUCKET"], os.environ["PREFIX"]
rows = s3.get_object(Bucket=bucket, Key=prefix + "/in/rows.csv")["Body"].read().decode().split()
listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/in/")["Contents"]]
s3.put_object(Bucket=bucket, Key=prefix + "/out/summary.txt",
              Body=f"{len(rows)} rows, sum {sum(int(r) for r in rows)}, listed {listed}".encode())
s3.upload_file("/etc/hostname", bucket, prefix + "/out/hostname")
"""


def test_a_processing_script_reads_and_writes_s3_with_plain_boto3(jobs_gateway, framework_image, s3, bucket, unique):
    framework_image("sklearn")
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/rows.csv", Body=b"1\n2\n3\n")
    s3.put_object(Bucket=bucket, Key=f"{unique}/code/script.py", Body=SCRIPT.encode())
    sm = jobs_gateway.client("sagemaker")
    sm.create_processing_job(   # as SKLearnProcessor.run(code=...) sends it
        ProcessingJobName=unique, RoleArn=ROLE,
        AppSpecification={"ImageUri": SKLEARN,
                          "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"]},
        ProcessingInputs=[{"InputName": "code", "S3Input": {
            "S3Uri": f"s3://{bucket}/{unique}/code/script.py", "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        Environment={"BUCKET": bucket, "PREFIX": unique},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 5}},
        StoppingCondition={"MaxRuntimeInSeconds": 300})
    deadline = time.monotonic() + 180
    while (job := sm.describe_processing_job(ProcessingJobName=unique))["ProcessingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    summary = s3.get_object(Bucket=bucket, Key=f"{unique}/out/summary.txt")["Body"].read().decode()
    assert summary == f"3 rows, sum 6, listed ['{unique}/in/rows.csv']"
    assert s3.get_object(Bucket=bucket, Key=f"{unique}/out/hostname")["Body"].read().strip()
    events = jobs_gateway.client("logs").filter_log_events(logGroupName="/aws/sagemaker/ProcessingJobs",
                                                           logStreamNamePrefix=unique)["events"]
    versions = next(e["message"] for e in events if e["message"].startswith("boto3 "))
    assert versions == "boto3 1.44.8 botocore 1.44.8"
