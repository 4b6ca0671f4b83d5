"""Endpoints in the console: a real endpoint in Docker; its page shows variants, weights, instances and
container health; the invocation panel returns the container's prediction with status and latency;
data capture files and logs appear; Delete works, and is refused without the token or for another Host."""

from __future__ import annotations

import json

import httpx
import pytest
from console.waiting import until
from integration.hosting_support import ROLE, model_tarball, wait_endpoint

pytestmark = pytest.mark.docker


def test_endpoint_page_invocation_capture_logs_and_delete(console_gateway, tab, s3, console_bucket, serve_image,
                                                           unique):
    sm = console_gateway.client("sagemaker")
    runtime = console_gateway.client("sagemaker-runtime")
    s3.put_object(Bucket=console_bucket, Key=f"{unique}/model.tar.gz",
                  Body=model_tarball({"model.txt": b"console model v1"}))
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": serve_image, "ModelDataUrl": f"s3://{console_bucket}/{unique}/model.tar.gz"})
    sm.create_endpoint_config(
        EndpointConfigName=unique,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 2,
                             "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}],
        DataCaptureConfig={"EnableCapture": True, "InitialSamplingPercentage": 100,
                           "DestinationS3Uri": f"s3://{console_bucket}/capture",
                           "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    console = tab(console_gateway.url + "/_smlocal")
    console.goto(f"/endpoints/{unique}")
    page = console.page
    console.shot("endpoint-creating")
    assert wait_endpoint(sm, unique)["EndpointStatus"] == "InService"
    page.locator("#summary .badge", has_text="InService").wait_for(timeout=30_000)

    # variants and weights, instances and their containers' health
    variants = page.locator("[data-variants]").inner_text()
    assert "AllTraffic" in variants and unique in variants and "ml.m5.large" in variants
    assert page.locator("[data-variants] [data-weight]").inner_text() == "1.0"
    page.locator('[data-containers] [data-health="healthy"]').nth(1).wait_for()
    assert page.locator("[data-containers] tbody tr").count() == 2

    # the invocation panel: a real prediction, with status and latency
    page.fill("#content_type", "text/csv")
    page.fill("#accept", "application/json")
    page.fill("#body", "1,2,3\n4,5,6")
    page.get_by_role("button", name="Invoke endpoint").click()
    result = page.locator("[data-invocation]")
    result.wait_for()
    assert result.get_attribute("data-status") == "200"
    answer = json.loads(page.locator("[data-answer]").inner_text())
    direct = json.loads(runtime.invoke_endpoint(EndpointName=unique, ContentType="text/csv",
                                                Accept="application/json", Body=b"1,2,3\n4,5,6")["Body"].read())
    assert answer == direct == {"predictions": [6.0, 15.0], "model": "console model v1"}
    assert float(page.locator("[data-latency]").inner_text().split()[0]) > 0
    assert "AllTraffic" in result.inner_text() and "application/json" in result.inner_text()
    console.shot("endpoint-invoked", docs="endpoint-invocation.png", docs_until="[data-invocation]")

    # a container error is shown as SageMaker answers it (ModelError, 424)
    page.fill("#body", "status:500:model exploded")
    page.get_by_role("button", name="Invoke endpoint").click()
    page.locator('[data-invocation][data-status="424"]').wait_for()
    assert "ModelError" in page.locator("[data-invocation]").inner_text()
    assert "model exploded" in page.locator("[data-invocation]").inner_text()

    # data capture files appear on the page, and the logs show the requests
    page.locator("[data-capture] tbody tr").first.wait_for(timeout=30_000)
    captured = page.locator("[data-capture] tbody tr a").first.inner_text()
    assert captured.startswith("AllTraffic/") and captured.endswith(".jsonl")
    until(lambda: any("POST /invocations" in m for m in page.locator("[data-log] .msg").all_inner_texts()))
    assert any("POST /invocations" in m for m in page.locator("[data-log] .msg").all_inner_texts())
    console.shot("endpoint-capture")

    # Delete: refused without the token, from another site, for another Host
    token = page.locator('meta[name="smlocal-token"]').get_attribute("content")
    url = f"{console_gateway.url}/_smlocal/endpoints/{unique}/delete"
    refused = [httpx.post(url), httpx.post(url, data={"token": token}, headers={"Origin": "http://evil.example"}),
               httpx.post(url, data={"token": token}, headers={"Host": f"attacker.example:{console_gateway.port}"})]
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "InService"

    # and from the page it works: back to the list, and the endpoint goes away
    page.locator("summary", has_text="Delete").click()
    page.locator('button[data-confirm="delete"]').click()
    page.wait_for_url(f"**/_smlocal/endpoints?deleted={unique}")
    assert f"Endpoint {unique} is being deleted" in page.locator("main").inner_text()
    console.shot("endpoint-deleted")
    sm.get_waiter("endpoint_deleted").wait(EndpointName=unique, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    page.locator(f'tr[data-name="{unique}"]').wait_for(state="detached", timeout=30_000)


def test_models_and_endpoint_configs_link_both_ways(console_gateway, tab, serve_image, unique):
    sm = console_gateway.client("sagemaker")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={
        "Image": serve_image, "Environment": {"TAG": "<b>bold</b>"}})
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "blue", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.c5.xlarge"}])
    console = tab(console_gateway.url + "/_smlocal")
    console.goto("/models")
    console.page.locator(f'tr[data-name="{unique}"] a').click()
    assert serve_image in console.page.locator("main").inner_text()
    assert "<b>bold</b>" in console.page.locator("main").inner_text()        # shown as text, not markup
    console.shot("model")
    console.page.locator("a", has_text=f"{unique}").last.click()
    console.page.wait_for_url(f"**/endpoint-configs/{unique}")
    assert "ml.c5.xlarge" in console.page.locator("main").inner_text()
    console.shot("endpoint-config")
    console.goto("/endpoint-configs")
    assert console.page.locator(f'tr[data-name="{unique}"]').is_visible()
    console.shot("endpoint-configs")
    console.goto("/endpoints")
    console.shot("endpoints")
