"""Real-time hosting for real: boto3 -> gateway -> inference containers, checked from the outside."""

from __future__ import annotations

import io
import json
import threading
import time

import botocore.exceptions
import docker
import numpy as np
import pytest
from hosting_support import ROLE, delete, deploy, model_tarball, wait_endpoint
from support import live_gateway

from emulator.hosting.fleet import stop_all
from emulator.infra.docker_engine import DockerEngine

pytestmark = pytest.mark.docker


def endpoint_containers(name: str) -> list:
    return docker.from_env().containers.list(all=True, filters={"label": ["org.smlocal.kind=endpoint",
                                                                          f"org.smlocal.endpoint={name}"]})


def test_deploy_invoke_csv_json_npy_and_delete(jobs_gateway, serve_image, s3, bucket, unique):
    sm, runtime = jobs_gateway.client("sagemaker"), jobs_gateway.client("sagemaker-runtime")
    s3.put_object(Bucket=bucket, Key=f"models/{unique}/model.tar.gz",
                  Body=model_tarball({"model.txt": b"weights v1", "sub/extra.bin": b"x"}))
    described = deploy(sm, unique, serve_image, env={"FROM_MODEL": "1"},
                       model_data=f"s3://{bucket}/models/{unique}/model.tar.gz")
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    variant = described["ProductionVariants"][0]
    assert variant["VariantName"] == "AllTraffic" and variant["CurrentInstanceCount"] == 1
    assert variant["DeployedImages"][0]["SpecifiedImage"] == serve_image
    sm.get_waiter("endpoint_in_service").wait(EndpointName=unique, WaiterConfig={"Delay": 1, "MaxAttempts": 5})

    csv = runtime.invoke_endpoint(EndpointName=unique, Body=b"1,2,3\n4,5,6\n", ContentType="text/csv",
                                  Accept="application/json")
    assert json.loads(csv["Body"].read()) == {"predictions": [6.0, 15.0], "model": "weights v1"}
    assert csv["ContentType"] == "application/json" and csv["InvokedProductionVariant"] == "AllTraffic"
    as_json = runtime.invoke_endpoint(EndpointName=unique, Body=json.dumps([[1, 1], [2, 2]]),
                                      ContentType="application/json")
    assert json.loads(as_json["Body"].read())["predictions"] == [2, 4]
    buffer = io.BytesIO()
    np.save(buffer, np.array([[0.5, 0.5], [1.0, 2.0]]))
    npy = runtime.invoke_endpoint(EndpointName=unique, Body=buffer.getvalue(), ContentType="application/x-npy")
    assert json.loads(npy["Body"].read())["predictions"] == [1.0, 3.0]

    seen = json.loads(runtime.invoke_endpoint(EndpointName=unique, Body=b"inspect", ContentType="text/plain",
                                              CustomAttributes="trace=1", InferenceId="req-1")["Body"].read())
    assert seen["headers"]["X-Amzn-SageMaker-Custom-Attributes"] == "trace=1"
    assert seen["headers"]["X-Amzn-SageMaker-Inference-Id"] == "req-1"
    assert seen["env"]["FROM_MODEL"] == "1" and seen["env"]["S3_ENDPOINT_URL"]
    assert seen["model"] == {"model.txt": "weights v1", "sub/extra.bin": "x"}
    with_attrs = runtime.invoke_endpoint(EndpointName=unique, Body=b"raw", ContentType="application/octet-stream",
                                         CustomAttributes="a=b")
    assert with_attrs["Body"].read() == b"raw" and with_attrs["CustomAttributes"] == "seen=a=b"

    logs = jobs_gateway.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{unique}")["logStreams"]
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith("AllTraffic/")
    assert len(endpoint_containers(unique)) == 1
    delete(sm, unique)
    assert endpoint_containers(unique) == []
    assert not (jobs_gateway.settings.data_dir / "endpoints" / unique.lower()).exists()


def test_model_error_oversize_and_unknown_endpoint(jobs_gateway, serve_image, unique):
    sm, runtime = jobs_gateway.client("sagemaker"), jobs_gateway.client("sagemaker-runtime")
    deploy(sm, unique, serve_image)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, Body=b"status:400:bad input row", ContentType="text/csv")
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError" and error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400 and error["OriginalMessage"] == "bad input row"
    assert error["Error"]["Message"].startswith(
        'Received client error (400) from primary with message "bad input row".')
    assert error["LogStreamArn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/{unique}"
    with pytest.raises(botocore.exceptions.ClientError, match=r"Received server error \(503\)"):
        runtime.invoke_endpoint(EndpointName=unique, Body=b"status:503:overloaded")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        runtime.invoke_endpoint(EndpointName=unique, Body=b"x" * (6 * 1024 * 1024 + 1))
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert "Member must have length less than or equal to 6291456" in info.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError, match=f"Endpoint {unique.upper()} of account"):
        runtime.invoke_endpoint(EndpointName=unique.upper(), Body=b"1")
    assert runtime.invoke_endpoint(EndpointName=unique, Body=b"x" * (6 * 1024 * 1024),
                                   ContentType="application/octet-stream")["Body"].read() == b"x" * (6 * 1024 * 1024)
    delete(sm, unique)


@pytest.fixture
def short_ping_gateway(tmp_path, s3_server):
    """A gateway whose startup /ping window is at most 20 s (``Settings.startup_health_check_cap``): a ping
    that never passes is what the test checks, not how long SageMaker's minimum window (60 s) lasts."""
    with live_gateway(tmp_path / "gateway", s3=s3_server, stop_grace_seconds=3,
                      startup_health_check_cap=20) as gateway:
        yield gateway
    stop_all(DockerEngine(), gateway.settings.data_dir, grace=1)


def test_failing_ping_and_crash_give_failed_with_logs(short_ping_gateway, serve_image, unique):
    sm = short_ping_gateway.client("sagemaker")
    crashed = deploy(sm, unique + "-c", serve_image, env={"EXIT_CODE": "3"})
    assert crashed["EndpointStatus"] == "Failed"
    assert "The primary container for production variant AllTraffic exited with code 3" in crashed["FailureReason"]
    assert "exiting on purpose before serving" in crashed["FailureReason"]
    assert endpoint_containers(unique + "-c") == []
    failing = deploy(sm, unique, serve_image, env={"PING": "fail"}, variants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
         "ContainerStartupHealthCheckTimeoutInSeconds": 60}])
    assert failing["EndpointStatus"] == "Failed"
    assert failing["FailureReason"].startswith(
        "The primary container for production variant AllTraffic did not pass the ping health check.")
    assert "ping failing on purpose: model weights not found" in failing["FailureReason"]
    delete(sm, unique)
    delete(sm, unique + "-c")


def test_two_endpoints_and_weighted_variants(jobs_gateway, serve_image, unique):
    sm, runtime = jobs_gateway.client("sagemaker"), jobs_gateway.client("sagemaker-runtime")
    sm.create_model(ModelName=unique + "-a", PrimaryContainer={"Image": serve_image, "Environment": {"TAG": "a"}},
                    ExecutionRoleArn=ROLE)
    deploy(sm, unique, serve_image, env={"TAG": "b"}, variants=[
        {"VariantName": "A", "ModelName": unique + "-a", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large",
         "InitialVariantWeight": 1},
        {"VariantName": "B", "ModelName": unique, "InitialInstanceCount": 2, "InstanceType": "ml.m5.large",
         "InitialVariantWeight": 1}])
    other = deploy(sm, unique + "-2", serve_image, env={"TAG": "other"}, variants=[
        {"VariantName": "AllTraffic", "ModelName": unique + "-2",
         "ServerlessConfig": {"MemorySizeInMB": 1024, "MaxConcurrency": 2}}])
    assert other["EndpointStatus"] == "InService"
    assert other["ProductionVariants"][0]["CurrentServerlessConfig"] == {"MemorySizeInMB": 1024, "MaxConcurrency": 2}
    (serverless,) = endpoint_containers(unique + "-2")
    assert serverless.attrs["HostConfig"]["Memory"] == 1024 * 1024 * 1024
    seen = {}
    for _ in range(60):
        response = runtime.invoke_endpoint(EndpointName=unique, Body=b"q", ContentType="text/plain")
        body = response["Body"].read()
        seen[response["InvokedProductionVariant"]] = body
    assert seen == {"A": b"a:q", "B": b"b:q"}
    for _ in range(10):
        pinned = runtime.invoke_endpoint(EndpointName=unique, Body=b"q", TargetVariant="A")
        assert pinned["InvokedProductionVariant"] == "A" and pinned["Body"].read() == b"a:q"
    assert runtime.invoke_endpoint(EndpointName=unique + "-2", Body=b"q")["Body"].read() == b"other:q"
    assert len(endpoint_containers(unique)) == 3

    sm.update_endpoint_weights_and_capacities(EndpointName=unique, DesiredWeightsAndCapacities=[
        {"VariantName": "A", "DesiredWeight": 0}])
    described = wait_endpoint(sm, unique)
    assert {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]} == {"A": 0.0, "B": 1.0}
    assert {runtime.invoke_endpoint(EndpointName=unique, Body=b"q")["InvokedProductionVariant"]
            for _ in range(20)} == {"B"}
    sm.delete_model(ModelName=unique)     # the endpoint keeps the model it was created with
    sm.update_endpoint_weights_and_capacities(EndpointName=unique, DesiredWeightsAndCapacities=[
        {"VariantName": "B", "DesiredInstanceCount": 1}])
    described = wait_endpoint(sm, unique)
    assert {v["VariantName"]: v["CurrentInstanceCount"] for v in described["ProductionVariants"]} == {"A": 1, "B": 1}
    assert described["ProductionVariants"][0]["CurrentWeight"] == 0.0
    assert len(endpoint_containers(unique)) == 2
    assert runtime.invoke_endpoint(EndpointName=unique, Body=b"q", TargetVariant="B")["Body"].read() == b"b:q"
    delete(sm, unique)
    delete(sm, unique + "-2")


def test_serial_pipeline_chains_containers(jobs_gateway, serve_image, unique):
    sm, runtime = jobs_gateway.client("sagemaker"), jobs_gateway.client("sagemaker-runtime")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, Containers=[
        {"Image": serve_image, "Environment": {"TAG": "first"}, "ContainerHostname": "pre"},
        {"Image": serve_image, "Environment": {"TAG": "second"}, "ContainerHostname": "post"}])
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    assert wait_endpoint(sm, unique)["EndpointStatus"] == "InService"
    response = runtime.invoke_endpoint(EndpointName=unique, Body=b"1,2", ContentType="text/csv")
    assert response["Body"].read() == b"second:first:1,2" and response["ContentType"] == "text/csv"
    with pytest.raises(botocore.exceptions.ClientError,
                       match=r"Received server error \(500\) from pre with message \"boom\""):
        runtime.invoke_endpoint(EndpointName=unique, Body=b"status:500:boom")
    delete(sm, unique)


def test_update_endpoint_under_load_fails_no_request(jobs_gateway, serve_image, unique):
    sm = jobs_gateway.client("sagemaker")
    deploy(sm, unique, serve_image, env={"TAG": "v1"})
    old_ids = {c.id for c in endpoint_containers(unique)}
    sm.create_model(ModelName=unique + "-v2", PrimaryContainer={"Image": serve_image, "Environment": {"TAG": "v2"}},
                    ExecutionRoleArn=ROLE)
    sm.create_endpoint_config(EndpointConfigName=unique + "-v2", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique + "-v2", "InitialInstanceCount": 2,
         "InstanceType": "ml.m5.large"}])
    stop, answers, failures = threading.Event(), [], []

    def hammer() -> None:
        client = jobs_gateway.client("sagemaker-runtime")
        while not stop.is_set():
            try:
                answers.append(client.invoke_endpoint(EndpointName=unique, Body=b"q")["Body"].read())
            except Exception as exc:  # noqa: BLE001 - counted, the test asserts there are none
                failures.append(repr(exc))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        sm.update_endpoint(EndpointName=unique, EndpointConfigName=unique + "-v2")
        assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "Updating"
        with pytest.raises(botocore.exceptions.ClientError, match="Cannot update in-progress endpoint"):
            sm.delete_endpoint(EndpointName=unique)
        described = wait_endpoint(sm, unique)
        time.sleep(1)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == unique + "-v2"
    assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
    assert b"v1:q" in answers and answers[-1] == b"v2:q" and set(answers) == {b"v1:q", b"v2:q"}
    current = {c.id for c in endpoint_containers(unique)}
    assert len(current) == 2 and not current & old_ids
    delete(sm, unique)


def test_data_capture_writes_json_lines_in_sagemakers_layout(jobs_gateway, serve_image, s3, bucket, unique):
    sm, runtime = jobs_gateway.client("sagemaker"), jobs_gateway.client("sagemaker-runtime")
    described = deploy(sm, unique, serve_image, DataCaptureConfig={
        "EnableCapture": True, "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/capture/{unique}",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}]})
    assert described["DataCaptureConfig"] == {
        "EnableCapture": True, "CaptureStatus": "Started", "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/capture/{unique}"}
    runtime.invoke_endpoint(EndpointName=unique, Body=b"1,2\n", ContentType="text/csv", InferenceId="id-1")
    runtime.invoke_endpoint(EndpointName=unique, Body=b"\x00\x01", ContentType="application/octet-stream")
    # the two records may land in one file or in two (as on SageMaker): read until both arrived
    deadline, keys, lines = time.monotonic() + 20, [], []
    while time.monotonic() < deadline and len(lines) < 2:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"capture/{unique}/").get("Contents", [])]
        lines = [line for key in keys
                 for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()]
        time.sleep(0.2)
    assert keys, "no capture file written"
    for key in keys:
        parts = key.split("/")
        assert parts[2:4] == [unique, "AllTraffic"] and len(parts) == 9 and parts[-1].endswith(".jsonl")
        assert [len(p) for p in parts[4:8]] == [4, 2, 2, 2]
    records = [json.loads(line) for line in lines]
    assert len(records) == 2
    first = next(r for r in records if r["eventMetadata"].get("inferenceId") == "id-1")
    assert first["captureData"]["endpointInput"] == {"observedContentType": "text/csv", "mode": "INPUT",
                                                     "data": "1,2\n", "encoding": "CSV"}
    assert first["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert json.loads(first["captureData"]["endpointOutput"]["data"])["predictions"] == [3.0]
    binary = next(r for r in records if r is not first)
    assert binary["captureData"]["endpointInput"] == {"observedContentType": "application/octet-stream",
                                                      "mode": "INPUT", "data": "AAE=", "encoding": "BASE64"}
    assert first["eventVersion"] == "0"
    delete(sm, unique)


def test_network_isolation_gives_no_network_and_no_s3_keys(jobs_gateway, serve_image, unique):
    sm, runtime = jobs_gateway.client("sagemaker"), jobs_gateway.client("sagemaker-runtime")
    sm.create_model(ModelName=unique, PrimaryContainer={"Image": serve_image}, ExecutionRoleArn=ROLE,
                    EnableNetworkIsolation=True)
    sm.create_endpoint_config(EndpointConfigName=unique, ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": unique, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=unique)
    assert wait_endpoint(sm, unique)["EndpointStatus"] == "InService"
    seen = json.loads(runtime.invoke_endpoint(EndpointName=unique, Body=b"inspect")["Body"].read())
    assert "S3_ENDPOINT_URL" not in seen["env"] and "AWS_SECRET_ACCESS_KEY" not in seen["env"]
    (container,) = endpoint_containers(unique)
    networks = container.attrs["NetworkSettings"]["Networks"]
    assert len(networks) == 1
    network = docker.from_env().networks.get(next(iter(networks)))
    assert network.attrs["Internal"] is True
    assert container.attrs["NetworkSettings"]["Ports"] in ({}, None)
    delete(sm, unique)
