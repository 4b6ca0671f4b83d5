"""The console over plain HTTP against a live gateway without Docker or S3: pages for records the
API created, exact refusals (Host, token, origin, method), security headers, and polling fragments."""

from __future__ import annotations

import re
import time

import httpx
import pytest

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture(scope="module")
def records(sm):
    sm.create_model(ModelName="console-api-model", ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": "example/serve:1", "ModelDataUrl": "s3://b/<k>/model.tar.gz", "Environment": {"K": "<i>v</i>"}})
    sm.create_endpoint_config(EndpointConfigName="console-api-config", ProductionVariants=[
        {"VariantName": "v1", "ModelName": "console-api-model", "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}])
    yield
    sm.delete_endpoint_config(EndpointConfigName="console-api-config")
    sm.delete_model(ModelName="console-api-model")


def get(gateway, path: str, **kwargs) -> httpx.Response:
    return httpx.get(f"{gateway.url}/_smlocal{path}", **kwargs)


def test_pages_show_the_records_escaped(gateway, records):
    page = get(gateway, "/models/console-api-model")
    assert page.status_code == 200
    assert "example/serve:1" in page.text and "&lt;i&gt;v&lt;/i&gt;" in page.text and "<i>v</i>" not in page.text
    assert 'href="/_smlocal/endpoint-configs/console-api-config"' in page.text
    config = get(gateway, "/endpoint-configs/CONSOLE-API-CONFIG")      # names are case-insensitive
    assert config.status_code == 200 and "ml.m5.large" in config.text
    assert get(gateway, "/models/no-such-model").status_code == 404
    assert get(gateway, "/").status_code == 200


def test_every_page_carries_the_security_headers(gateway):
    for path in ("/", "/training-jobs", "/static/console.css", "/no-such-page"):
        headers = get(gateway, path).headers
        assert "script-src 'self'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert "access-control-allow-origin" not in headers


def test_a_foreign_host_is_refused_before_anything_runs(gateway):
    response = get(gateway, "/", headers={"Host": "attacker.example"})
    assert response.status_code == 403
    assert "attacker.example" in response.text and f"{gateway.url}/_smlocal/" in response.text
    assert get(gateway, "/", headers={"Host": f"localhost:{gateway.port}"}).status_code == 200


def test_changes_need_the_pages_token(gateway, sm):
    page = get(gateway, "/training-jobs")
    token = re.search(r'<meta name="smlocal-token" content="([^"]+)"', page.text).group(1)
    url = f"{gateway.url}/_smlocal/endpoints/no-such-endpoint/delete"
    assert httpx.post(url).status_code == 403
    assert httpx.post(url, headers={"X-Smlocal-Token": token, "Origin": "http://evil.example"}).status_code == 403
    # with the token the request reaches DeleteEndpoint, which answers with SageMaker's error
    answered = httpx.post(url, headers={"X-Smlocal-Token": token, "Origin": gateway.url, "HX-Request": "true"})
    assert answered.status_code == 409
    assert "ValidationException" in answered.text and "Could not find endpoint" in answered.text
    plain = httpx.post(url, data={"token": token})      # a plain form: the page it came from is gone
    assert plain.status_code == 404 and "No endpoint named no-such-endpoint" in plain.text
    assert httpx.request("PUT", url).status_code == 405


def test_fragments_stop_polling_once_a_job_ended(gateway, sm):
    sm.create_training_job(
        TrainingJobName="console-api-job", RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": "example/train:1", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://b/out"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60})
    deadline = time.monotonic() + 30
    while sm.describe_training_job(TrainingJobName="console-api-job")["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline, "the job (no S3 server here) should fail at once"
        time.sleep(0.1)
    summary = get(gateway, "/training-jobs/console-api-job", params={"fragment": "summary"})
    assert summary.status_code == 286 and "<html" not in summary.text and "FailureReason" in summary.text
    gone = get(gateway, "/training-jobs/no-such-job", params={"fragment": "summary"})
    assert gone.status_code == 286 and "No training job named no-such-job" in gone.text
