"""The AWS CLI, pointed at smlocal by environment variables only: describe, list, invoke, S3."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from support import ROLE, S3_ACCESS, S3_SECRET

pytestmark = pytest.mark.docker


def aws(gateway, *args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "AWS_ENDPOINT_URL": gateway.url, "AWS_ACCESS_KEY_ID": S3_ACCESS,
           "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": ""}
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        env.pop(key, None)
    return subprocess.run(["aws", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


def test_cli_describes_lists_and_invokes_an_endpoint(jobs_gateway, serve_image, bucket, tmp_path):
    sm = jobs_gateway.client("sagemaker")
    sm.create_model(ModelName="cli-model", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": serve_image})
    sm.create_endpoint_config(EndpointConfigName="cli-config", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "cli-model", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName="cli-endpoint", EndpointConfigName="cli-config")
    waited = aws(jobs_gateway, "sagemaker", "wait", "endpoint-in-service", "--endpoint-name", "cli-endpoint")
    assert waited.returncode == 0, waited.stderr
    try:
        described = aws(jobs_gateway, "sagemaker", "describe-endpoint", "--endpoint-name", "cli-endpoint")
        assert described.returncode == 0 and json.loads(described.stdout)["EndpointStatus"] == "InService"
        listed = aws(jobs_gateway, "sagemaker", "list-endpoints", "--name-contains", "cli-")
        assert [e["EndpointName"] for e in json.loads(listed.stdout)["Endpoints"]] == ["cli-endpoint"]
        (tmp_path / "rows.csv").write_text("1,2\n3,4\n")
        invoked = aws(jobs_gateway, "sagemaker-runtime", "invoke-endpoint", "--endpoint-name", "cli-endpoint",
                      "--content-type", "text/csv", "--body", "fileb://rows.csv", "out.json", cwd=tmp_path)
        assert invoked.returncode == 0, invoked.stderr
        assert json.loads(invoked.stdout)["InvokedProductionVariant"] == "AllTraffic"
        assert json.loads((tmp_path / "out.json").read_text())["predictions"] == [3.0, 7.0]
        missing = aws(jobs_gateway, "sagemaker-runtime", "invoke-endpoint", "--endpoint-name", "nope",
                      "--body", "fileb://rows.csv", "out.json", cwd=tmp_path)
        assert missing.returncode != 0
        assert "(ValidationError) when calling the InvokeEndpoint operation: Endpoint nope of account " \
               "123456789012 not found." in missing.stderr
    finally:
        sm.delete_endpoint(EndpointName="cli-endpoint")
    jobs = aws(jobs_gateway, "sagemaker", "list-training-jobs", "--max-results", "5")
    assert jobs.returncode == 0 and "TrainingJobSummaries" in json.loads(jobs.stdout)
    copied = aws(jobs_gateway, "s3", "cp", "rows.csv", f"s3://{bucket}/cli/rows.csv", cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    assert aws(jobs_gateway, "s3", "ls", f"s3://{bucket}/cli/").stdout.split()[-1] == "rows.csv"
