"""Transform job records through boto3: Describe shows the request with SageMaker's defaults and
nothing private; List summarises; a job whose image is missing fails with a reason."""

from __future__ import annotations

import time

IMAGE = "smlocal-test/no-such-image:1"


def test_describe_list_and_failure_reason(sm, unique):
    sm.create_model(ModelName=unique, PrimaryContainer={"Image": IMAGE})
    arn = sm.create_transform_job(
        TransformJobName=unique, ModelName=unique, Environment={"A": "1"},
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
                        "ContentType": "text/csv"},
        TransformOutput={"S3OutputPath": "s3://b/out/"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 2},
        DataProcessing={"JoinSource": "None"}, Tags=[{"Key": "team", "Value": "ml"}])["TransformJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{unique}"
    described = sm.describe_transform_job(TransformJobName=unique)
    assert described["TransformJobStatus"] in ("InProgress", "Failed")
    assert described["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
        "ContentType": "text/csv", "CompressionType": "None", "SplitType": "None"}
    assert described["TransformOutput"] == {"S3OutputPath": "s3://b/out/", "AssembleWith": "None"}
    assert described["DataProcessing"] == {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"}
    assert described["Environment"] == {"A": "1"} and described["ModelName"] == unique
    assert "Tags" not in described and "_smlocal" not in described
    deadline = time.monotonic() + 30
    while described["TransformJobStatus"] != "Failed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
        described = sm.describe_transform_job(TransformJobName=unique)
    assert described["FailureReason"].startswith("ClientError: ")
    assert IMAGE in described["FailureReason"]
    assert described["TransformEndTime"] >= described["CreationTime"]
    summaries = sm.list_transform_jobs(NameContains=unique, StatusEquals="Failed")["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in summaries] == [unique]
    assert set(summaries[0]) >= {"TransformJobName", "TransformJobArn", "CreationTime", "TransformJobStatus",
                                 "FailureReason", "LastModifiedTime", "TransformEndTime"}
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
