"""Batch transform for real: boto3 -> gateway -> transform job -> inference containers -> S3 outputs,
checked from the outside (Describe, S3 objects, CloudWatch-like logs)."""

from __future__ import annotations

import gzip
import json
import time

import docker
import pytest
from hosting_support import ROLE
from support import fresh_spares

pytestmark = pytest.mark.docker


def create_model(sm, name: str, image: str, env: dict | None = None) -> None:
    sm.create_model(ModelName=name, PrimaryContainer={"Image": image, "Environment": env or {}},
                    ExecutionRoleArn=ROLE)


def start(sm, name: str, model: str, source: str, output: str, instances: int = 1, **extra) -> None:
    transform_input = {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                       "ContentType": "text/csv", "SplitType": "Line", **extra.pop("TransformInput", {})}
    transform_input = {k: v for k, v in transform_input.items() if v is not None}   # None: leave it out
    sm.create_transform_job(
        TransformJobName=name, ModelName=model, TransformInput=transform_input,
        TransformOutput={"S3OutputPath": output, "AssembleWith": "Line", **extra.pop("TransformOutput", {})},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": instances}, **extra)


def wait(sm, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sm.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return described
        time.sleep(0.2)
    raise AssertionError(f"{name} still {described['TransformJobStatus']}")


def read(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def keys(s3, bucket: str, prefix: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def job_containers(name: str) -> list:
    """The job's containers, from the listing alone: docker-py's full listing inspects each one and
    fails with NotFound when one is removed meanwhile (it did after a Stop, in a CI run)."""
    return docker.from_env().containers.list(all=True, sparse=True, filters={
        "label": ["org.smlocal.kind=transform-job", f"org.smlocal.job={name}"]})


def data_log(logs, name: str) -> list[str]:
    group = "/aws/sagemaker/TransformJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
    lines = []
    for stream in streams:
        if stream["logStreamName"].endswith("/data-log"):
            events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"],
                                         startFromHead=True)["events"]
            lines += [e["message"] for e in events]
    return lines


def test_csv_multi_record_nested_prefixes_in_order(jobs_gateway, serve_image, s3, bucket, unique):
    sm, logs = jobs_gateway.client("sagemaker"), jobs_gateway.client("logs")
    create_model(sm, unique, serve_image, {"LINES": "1"})
    rows = [f"{i},{i * 2},1" for i in range(1, 2001)]
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/a.csv", Body=("\n".join(rows[:1000]) + "\n").encode())
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/nested/deeper/b.csv", Body="\n".join(rows[1000:]).encode())
    # MaxPayloadInMB 1 with ~10-byte rows: several records per request, many requests in flight
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out",
          BatchStrategy="MultiRecord", MaxPayloadInMB=1, MaxConcurrentTransforms=4)
    sm.get_waiter("transform_job_completed_or_stopped").wait(TransformJobName=unique,
                                                            WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    described = sm.describe_transform_job(TransformJobName=unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["TransformStartTime"] >= described["CreationTime"]
    assert described["TransformEndTime"] >= described["TransformStartTime"]
    assert described["TransformInput"]["CompressionType"] == "None"
    assert described["TransformResources"]["InstanceCount"] == 1
    assert keys(s3, bucket, f"{unique}/out/") == [f"{unique}/out/a.csv.out", f"{unique}/out/nested/deeper/b.csv.out"]
    expected = [str(float(3 * i + 1)) for i in range(1, 2001)]
    assert read(s3, bucket, f"{unique}/out/a.csv.out").decode().splitlines() == expected[:1000]
    assert read(s3, bucket, f"{unique}/out/nested/deeper/b.csv.out").decode().splitlines() == expected[1000:]
    lines = data_log(logs, unique)
    assert "[sagemaker logs]: MaxConcurrentTransforms=4, MaxPayloadInMB=1, BatchStrategy=MULTI_RECORD" in lines
    assert any("a.csv: 1000 records in" in line for line in lines)
    summaries = sm.list_transform_jobs(NameContains=unique)["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in summaries] == [unique]
    assert summaries[0]["TransformJobStatus"] == "Completed" and "TransformEndTime" in summaries[0]
    assert job_containers(unique) == []


def test_single_record_env_and_execution_parameters(jobs_gateway, serve_image, s3, bucket, unique):
    """SingleRecord: one request per line. The container's /execution-parameters sets what the request
    left out; SAGEMAKER_* batch variables appear only when the request set them."""
    sm, logs = jobs_gateway.client("sagemaker"), jobs_gateway.client("logs")
    params = {"MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 2}
    create_model(sm, unique, serve_image, {"EXECUTION_PARAMETERS": json.dumps(params), "FROM_MODEL": "m"})
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/one.txt", Body=b"inspect\ninspect\ninspect\n")
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/one.txt", f"s3://{bucket}/{unique}/out/",
          Environment={"FROM_JOB": "j"},
          TransformInput={"ContentType": "text/plain"}, TransformOutput={"Accept": "application/json"})
    described = wait(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    answers = [json.loads(line) for line in read(s3, bucket, f"{unique}/out/one.txt.out").splitlines()]
    assert len(answers) == 3          # SingleRecord from the container: three requests
    env, headers = answers[0]["env"], answers[0]["headers"]
    assert env["SAGEMAKER_BATCH"] == "true" and env["FROM_MODEL"] == "m" and env["FROM_JOB"] == "j"
    for name in ("SAGEMAKER_BATCH_STRATEGY", "SAGEMAKER_MAX_PAYLOAD_IN_MB", "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"):
        assert name not in env
    assert headers["Content-Type"] == "text/plain" and headers["Accept"] == "application/json"
    assert "[sagemaker logs]: MaxConcurrentTransforms=3, MaxPayloadInMB=2, BatchStrategy=SINGLE_RECORD" \
        in data_log(logs, unique)

    # the request's values win over the container's, and reach the container as variables
    name = unique + "-req"
    s3.put_object(Bucket=bucket, Key=f"{unique}/single/inspect.txt", Body=b"inspect\n")
    start(sm, name, unique, f"s3://{bucket}/{unique}/single/", f"s3://{bucket}/{name}/",
          BatchStrategy="MultiRecord", MaxPayloadInMB=5, MaxConcurrentTransforms=1,
          TransformInput={"ContentType": "text/plain", "SplitType": "None"}, TransformOutput={"AssembleWith": "None"})
    described = wait(sm, name)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    seen = json.loads(read(s3, bucket, f"{name}/inspect.txt.out"))
    assert seen["env"]["SAGEMAKER_BATCH_STRATEGY"] == "MULTI_RECORD"
    assert seen["env"]["SAGEMAKER_MAX_PAYLOAD_IN_MB"] == "5"
    assert seen["env"]["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] == "1"
    assert "[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=5, BatchStrategy=MULTI_RECORD" \
        in data_log(logs, name)


def test_gzip_jsonlines_join_source_with_filters(jobs_gateway, serve_image, s3, bucket, unique):
    """JSON Lines input, gzipped: InputFilter picks what the model sees, JoinSource Input adds the
    answer to each input record as SageMakerOutput, OutputFilter keeps the id and the answer."""
    sm = jobs_gateway.client("sagemaker")
    create_model(sm, unique, serve_image, {"LINES": "1"})
    records = [{"id": i, "features": [i, 1], "note": "x" * i} for i in range(50)]
    body = "".join(json.dumps({"wrapped": r, "id": r["id"]}) + "\n" for r in records)
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/part-0.jsonl.gz", Body=gzip.compress(body.encode()))
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out",
          BatchStrategy="MultiRecord", MaxConcurrentTransforms=2,
          TransformInput={"ContentType": "application/jsonlines", "CompressionType": "Gzip"},
          TransformOutput={"Accept": "application/jsonlines"},
          DataProcessing={"InputFilter": "$.wrapped", "JoinSource": "Input",
                          "OutputFilter": "$['id','SageMakerOutput']"})
    described = wait(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert described["DataProcessing"] == {"InputFilter": "$.wrapped", "OutputFilter": "$['id','SageMakerOutput']",
                                           "JoinSource": "Input"}
    out = [json.loads(line) for line in read(s3, bucket, f"{unique}/out/part-0.jsonl.gz.out").splitlines()]
    assert out == [{"id": i, "SageMakerOutput": {"sum": i + 1}} for i in range(50)]


def test_csv_join_source_and_column_filters(jobs_gateway, serve_image, s3, bucket, unique):
    sm = jobs_gateway.client("sagemaker")
    create_model(sm, unique, serve_image, {"LINES": "1"})
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/rows.csv", Body=b"id-1,1,2\nid-2,3,4\n\nid-3,5,6")
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out",
          TransformOutput={"Accept": "text/csv"},
          DataProcessing={"InputFilter": "$[1:]", "JoinSource": "Input", "OutputFilter": "$[0,-1]"})
    described = wait(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert read(s3, bucket, f"{unique}/out/rows.csv.out") == b"id-1,3.0\nid-2,7.0\nid-3,11.0\n"


def test_rejected_record_fails_the_job_naming_the_object(jobs_gateway, serve_image, s3, bucket, unique):
    sm, logs = jobs_gateway.client("sagemaker"), jobs_gateway.client("logs")
    create_model(sm, unique, serve_image, {"LINES": "1"})
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/good.csv", Body=b"1,2\n3,4\n")
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/zbad.csv", Body=b"1,2\n3,reject\n5,6\n")
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out",
          BatchStrategy="SingleRecord")
    described = wait(sm, unique)
    assert described["TransformJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith(f"ClientError: s3://{bucket}/{unique}/in/zbad.csv: record 2: ")
    assert "Bad HTTP status received from algorithm: 400 cannot score record '3,reject'" in reason
    assert keys(s3, bucket, f"{unique}/out/") == [f"{unique}/out/good.csv.out"]   # no .out for a failed object
    assert any("zbad.csv: record 2: Bad HTTP status" in line for line in data_log(logs, unique))
    assert job_containers(unique) == []


def test_two_instances_share_the_objects(jobs_gateway, serve_image, s3, bucket, unique):
    sm, logs = jobs_gateway.client("sagemaker"), jobs_gateway.client("logs")
    create_model(sm, unique, serve_image, {"LINES": "1"})
    for index in range(4):
        s3.put_object(Bucket=bucket, Key=f"{unique}/in/part-{index}.csv", Body=f"{index},1\n{index},2\n".encode())
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out", instances=2)
    described = wait(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    for index in range(4):
        assert read(s3, bucket, f"{unique}/out/part-{index}.csv.out") == f"{index + 1.0}\n{index + 2.0}\n".encode()
    streams = [s["logStreamName"] for s in logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{unique}/")["logStreams"]]
    hosts = {name.split("/")[1].rsplit("-", 1)[0] for name in streams}
    assert hosts == {"algo-1", "algo-2"} and sum(name.endswith("/data-log") for name in streams) == 2
    lines = data_log(logs, unique)
    assert sum(" records in 1 requests -> " in line for line in lines) == 4


def test_manifest_input_and_invocation_timeout(jobs_gateway, serve_image, s3, bucket, unique):
    """A ManifestFile lists the objects; ModelClientConfig's timeout ends a slow request, retried
    InvocationsMaxRetries times before the job fails."""
    sm = jobs_gateway.client("sagemaker")
    create_model(sm, unique, serve_image)
    s3.put_object(Bucket=bucket, Key=f"{unique}/data/x/slow.txt", Body=b"sleep:3")
    manifest = json.dumps([{"prefix": f"s3://{bucket}/{unique}/data/"}, "x/slow.txt"])
    s3.put_object(Bucket=bucket, Key=f"{unique}/manifest.json", Body=manifest.encode())
    started = time.monotonic()
    start(sm, unique, unique, f"s3://{bucket}/{unique}/manifest.json", f"s3://{bucket}/{unique}/out",
          TransformInput={"ContentType": "text/plain", "SplitType": "None",
                          "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile",
                                                          "S3Uri": f"s3://{bucket}/{unique}/manifest.json"}}},
          ModelClientConfig={"InvocationsTimeoutInSeconds": 1, "InvocationsMaxRetries": 1})
    described = wait(sm, unique)
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == (
        f"AlgorithmError: s3://{bucket}/{unique}/data/x/slow.txt: record 1: the model container did not answer "
        "within 1 seconds (ModelClientConfig.InvocationsTimeoutInSeconds) (after 2 attempts)")
    assert time.monotonic() - started < 60

    name = unique + "-ok"
    start(sm, name, unique, f"s3://{bucket}/{unique}/manifest.json", f"s3://{bucket}/{name}/",
          TransformInput={"ContentType": "text/plain", "SplitType": "None",
                          "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile",
                                                          "S3Uri": f"s3://{bucket}/{unique}/manifest.json"}}},
          TransformOutput={"AssembleWith": "None"}, ModelClientConfig={"InvocationsTimeoutInSeconds": 10})
    described = wait(sm, name)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert read(s3, bucket, f"{name}/x/slow.txt.out") == b"slept"


def test_stop_while_transforming(jobs_gateway, serve_image, s3, bucket, unique):
    sm = jobs_gateway.client("sagemaker")
    create_model(sm, unique, serve_image)
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/slow.txt", Body=b"sleep:60")
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out",
          TransformInput={"ContentType": "text/plain", "SplitType": "None"})
    deadline = time.monotonic() + 60
    while not job_containers(unique) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    sm.stop_transform_job(TransformJobName=unique)
    assert sm.describe_transform_job(TransformJobName=unique)["TransformJobStatus"] in ("Stopping", "Stopped")
    described = wait(sm, unique, timeout=30)
    assert described["TransformJobStatus"] == "Stopped" and "FailureReason" not in described
    assert keys(s3, bucket, f"{unique}/out/") == []
    with pytest.raises(sm.exceptions.ClientError) as raised:
        sm.stop_transform_job(TransformJobName=unique)
    assert raised.value.response["Error"]["Message"] == (
        "The request was rejected because the transform job is in status Stopped.")
    deadline = time.monotonic() + 20
    while job_containers(unique) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job_containers(unique) == []


def test_recordio_split_single_record_echo_and_oversized_record(jobs_gateway, serve_image, s3, bucket, unique):
    """RecordIO records go one per request with their framing (the test model echoes them), so the
    output is the input again; a record above MaxPayloadInMB fails the job naming the object."""
    import struct

    def record(payload: bytes) -> bytes:
        return struct.pack("<II", 0xCED7230A, len(payload)) + payload + b"\0" * (-len(payload) % 4)

    sm = jobs_gateway.client("sagemaker")
    create_model(sm, unique, serve_image)
    data = b"".join(record(f"payload {i}".encode() * (i + 1)) for i in range(20))
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/data.rec", Body=data)
    s3.put_object(Bucket=bucket, Key=f"{unique}/big/data.rec", Body=record(b"x" * (1024 * 1024 + 1)))
    io_input = {"ContentType": "application/x-recordio", "SplitType": "RecordIO"}
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out",
          BatchStrategy="SingleRecord", MaxPayloadInMB=1, TransformInput=io_input,
          TransformOutput={"AssembleWith": "None"})
    name = unique + "-big"
    start(sm, name, unique, f"s3://{bucket}/{unique}/big/", f"s3://{bucket}/{name}/",
          BatchStrategy="SingleRecord", MaxPayloadInMB=1, TransformInput=io_input)
    described = wait(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert read(s3, bucket, f"{unique}/out/data.rec.out") == data
    described = wait(sm, name)
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == (f"ClientError: s3://{bucket}/{unique}/big/data.rec: record 1 is 1048588 "
                                          "bytes, more than MaxPayloadInMB (1 MB)")


def test_an_isolated_job_on_a_spare_internal_network_is_reached_by_its_address(
        jobs_gateway, serve_image, s3, bucket, unique):
    """A network-isolated transform job's container has no published port: smlocal reaches it at its
    address on the job's internal network, also when that network is a spare the job took from the
    pool (``jobs/network_pool.py``: the record names it)."""
    sm = jobs_gateway.client("sagemaker")
    sm.create_model(ModelName=unique, PrimaryContainer={"Image": serve_image, "Environment": {"LINES": "1"}},
                    ExecutionRoleArn=ROLE, EnableNetworkIsolation=True)
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/a.csv", Body=b"1,2,1\n2,4,1\n")
    spares = fresh_spares(jobs_gateway.emulator.jobs.networks, internal=True, host_access=True)
    client = docker.from_env()
    assert all(client.networks.get(n).attrs["Internal"] for n in spares)
    start(sm, unique, unique, f"s3://{bucket}/{unique}/in/", f"s3://{bucket}/{unique}/out", BatchStrategy="MultiRecord")
    described = wait(sm, unique)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert read(s3, bucket, f"{unique}/out/a.csv.out").decode().splitlines() == ["4.0", "7.0"]
    deadline = time.monotonic() + 30    # the job took one spare and removes it after its last status
    while len({n.name for n in client.networks.list(names=spares) if n.name in spares}) != 1:
        assert time.monotonic() < deadline, spares
        time.sleep(0.2)
    assert job_containers(unique) == []
