"""Processing jobs for real: boto3 -> gateway -> Docker containers -> S3, checked from the outside.

The test image (images/process) has its own ENTRYPOINT and writes what it saw (argv, env, config
files, inputs) to an output, so these tests read the contract back from S3.
"""

from __future__ import annotations

import json
import time

import botocore.exceptions
import pytest
from support import pool_leftovers

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
GROUP = "/aws/sagemaker/ProcessingJobs"


def s3_input(name: str, uri: str, local: str, **extra) -> dict:
    return {"InputName": name, "S3Input": {"S3Uri": uri, "LocalPath": local, "S3DataType": extra.pop("data_type",
                                                                                                       "S3Prefix"),
                                           "S3InputMode": "File", **extra}}


def s3_output(name: str, uri: str, local: str, mode: str = "EndOfJob") -> dict:
    return {"OutputName": name, "S3Output": {"S3Uri": uri, "LocalPath": local, "S3UploadMode": mode}}


def request(name: str, image: str, bucket: str, arguments: list[str] | None = None, count: int = 1,
            **overrides) -> dict:
    app = {"ImageUri": image}
    if arguments is not None:
        app["ContainerArguments"] = arguments
    body = {
        "ProcessingJobName": name, "RoleArn": ROLE, "AppSpecification": app,
        "ProcessingOutputConfig": {"Outputs": [
            s3_output("evidence", f"s3://{bucket}/{name}/evidence", "/opt/ml/processing/evidence")]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": count, "InstanceType": "ml.m5.large",
                                                  "VolumeSizeInGB": 5}},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }
    body.update(overrides)
    return body


def wait(sm, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sm.describe_processing_job(ProcessingJobName=name)
        if job["ProcessingJobStatus"] not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"{name} still {job['ProcessingJobStatus']}")


def keys(s3, bucket: str, prefix: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix):]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def evidence(s3, bucket: str, name: str, host: str = "algo-1") -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=f"{name}/evidence/{host}.json")["Body"].read())


def log_lines(gateway, name: str) -> dict[str, list[str]]:
    logs = gateway.client("logs")
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    return {s["logStreamName"]: [e["message"] for e in logs.get_log_events(
        logGroupName=GROUP, logStreamName=s["logStreamName"], startFromHead=True)["events"]] for s in streams}


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


@pytest.fixture(scope="module", autouse=True)
def nothing_is_left_behind(jobs_gateway):
    """After this module's jobs: none of their containers, networks or work directories remain."""
    yield
    import docker

    client = docker.from_env()
    gateway_jobs = {j["ProcessingJobName"] for j in jobs_gateway.client("sagemaker").list_processing_jobs(
        MaxResults=100)["ProcessingJobSummaries"]}
    deadline = time.monotonic() + 10
    while [c for c in client.api.containers(all=True, filters={"label": "org.smlocal.kind=processing-job"})
           if c["Labels"].get("org.smlocal.job") in gateway_jobs]:
        assert time.monotonic() < deadline, "processing containers left behind"
        time.sleep(0.2)
    assert [n for n in client.networks.list(filters={"label": "org.smlocal.kind=processing-job"})
            if n.name.removeprefix("smlocal-proc-") in gateway_jobs] == []
    assert pool_leftovers(jobs_gateway) == []            # networks jobs took from the pool
    workspace = jobs_gateway.settings.data_dir / "jobs" / "processing"
    while workspace.exists() and list(workspace.iterdir()):     # the runner cleans up after the last status
        assert time.monotonic() < deadline, f"work directories left behind: {list(workspace.iterdir())}"
        time.sleep(0.2)


@pytest.fixture
def sm(jobs_gateway):
    return jobs_gateway.client("sagemaker")


def test_contract_inputs_outputs_and_record(sm, s3, bucket, process_image, jobs_gateway, unique):
    s3.put_object(Bucket=bucket, Key=f"{unique}/data/a.csv", Body=b"a")
    s3.put_object(Bucket=bucket, Key=f"{unique}/data/sub/b.csv", Body=b"bb")
    s3.put_object(Bucket=bucket, Key=f"{unique}/listed/one.txt", Body=b"1")
    s3.put_object(Bucket=bucket, Key=f"{unique}/listed/two.txt", Body=b"2")
    s3.put_object(Bucket=bucket, Key=f"{unique}/listed/not-listed.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key=f"{unique}/manifest.json", Body=json.dumps(
        [{"prefix": f"s3://{bucket}/{unique}/listed/"}, "one.txt", "two.txt"]).encode())
    body = request(unique, process_image, bucket, Environment={"MY_SETTING": "on"},
                   ProcessingInputs=[
                       s3_input("data", f"s3://{bucket}/{unique}/data/", "/opt/ml/processing/input/data"),
                       s3_input("manifest", f"s3://{bucket}/{unique}/manifest.json",
                                "/opt/ml/processing/input/data/from-manifest", data_type="ManifestFile")],
                   Tags=[{"Key": "team", "Value": "ml"}])
    body["ProcessingOutputConfig"]["Outputs"].append(
        s3_output("results", f"s3://{bucket}/{unique}/results", "/opt/ml/processing/output"))
    arn = sm.create_processing_job(**body)["ProcessingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{unique}"
    job = wait(sm, unique)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ExitMessage"] == "all good on algo-1"
    assert "FailureReason" not in job
    assert job["CreationTime"] <= job["ProcessingStartTime"] <= job["ProcessingEndTime"]
    assert job["ProcessingInputs"][0] == {
        "InputName": "data", "AppManaged": False,
        "S3Input": {"S3Uri": f"s3://{bucket}/{unique}/data/", "LocalPath": "/opt/ml/processing/input/data",
                    "S3DataType": "S3Prefix", "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                    "S3CompressionType": "None"}}
    assert job["ProcessingOutputConfig"]["Outputs"][1]["AppManaged"] is False
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 300}
    # outputs: every file, relative paths kept, no tarball
    assert keys(s3, bucket, f"{unique}/results/") == {"nested/deeper/result.txt": b"result from algo-1"}

    seen = evidence(s3, bucket, unique)
    assert seen["argv"] == ["/usr/local/bin/process"]          # the image's ENTRYPOINT, no train/serve
    assert seen["inputs"] == {"data/a.csv": "a", "data/sub/b.csv": "bb",
                              "data/from-manifest/one.txt": "1", "data/from-manifest/two.txt": "2"}
    assert seen["resourceconfig"] == {"current_host": "algo-1", "hosts": ["algo-1"]}
    config = seen["processingjobconfig"]
    assert config["ProcessingJobArn"] == arn and config["ProcessingJobName"] == unique
    assert config["AppSpecification"] == {"ImageUri": process_image, "ContainerEntrypoint": None,
                                          "ContainerArguments": None}
    assert config["Environment"] == {"MY_SETTING": "on"}
    assert config["ProcessingInputs"] == job["ProcessingInputs"]
    assert config["ProcessingOutputConfig"] == {"KmsKeyId": None, "Outputs": job["ProcessingOutputConfig"]["Outputs"]}
    assert config["ProcessingResources"] == {"ClusterConfig": {
        "InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5, "VolumeKmsKeyId": None}}
    assert config["RoleArn"] == ROLE and config["StoppingCondition"] == {"MaxRuntimeInSeconds": 300}
    env = seen["env"]
    assert env["MY_SETTING"] == "on" and env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ENDPOINT_URL_S3"].startswith("http://") and env["AWS_ACCESS_KEY_ID"]
    import docker

    image_env = {e.split("=", 1)[0] for e in docker.from_env().images.get(process_image).attrs["Config"]["Env"]}
    assert not [k for k in env if k.startswith(("SM_", "TRAINING_", "PROCESSING_")) and k not in image_env]
    assert seen["hostname"] == "algo-1"

    [(stream, messages)] = log_lines(jobs_gateway, unique).items()
    assert stream.startswith(f"{unique}/algo-1-")
    assert messages[0] == "process starting on algo-1 with argv []" and messages[-1] == "process done on algo-1"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    summaries = sm.list_processing_jobs(NameContains=unique)["ProcessingJobSummaries"]
    assert [(s["ProcessingJobName"], s["ProcessingJobStatus"], s["ExitMessage"]) for s in summaries] == [
        (unique, "Completed", "all good on algo-1")]
    assert sm.list_processing_jobs(NameContains=unique, StatusEquals="Failed")["ProcessingJobSummaries"] == []


def test_entrypoint_and_arguments_follow_docker_rules(sm, s3, bucket, process_image, unique):
    sm.create_processing_job(**request(unique, process_image, bucket, arguments=["--flag", "x"]))
    assert wait(sm, unique)["ProcessingJobStatus"] == "Completed"
    seen = evidence(s3, bucket, unique)
    assert seen["argv"] == ["/usr/local/bin/process", "--flag", "x"]     # image ENTRYPOINT + arguments
    assert seen["processingjobconfig"]["AppSpecification"]["ContainerArguments"] == ["--flag", "x"]

    other = unique + "-e"
    body = request(other, process_image, bucket)
    body["AppSpecification"]["ContainerEntrypoint"] = ["python3", "-u", "/usr/local/bin/process", "--from-entry"]
    sm.create_processing_job(**body)
    assert wait(sm, other)["ProcessingJobStatus"] == "Completed"
    assert evidence(s3, bucket, other)["argv"] == ["/usr/local/bin/process", "--from-entry"]


def test_failure_sets_exit_message_and_uploads_nothing(sm, s3, bucket, process_image, unique):
    body = request(unique, process_image, bucket, arguments=["--mode", "fail", "--message", "bad input row 7",
                                                             "--exit-code", "3"])
    sm.create_processing_job(**body)
    job = wait(sm, unique)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert job["ExitMessage"] == "bad input row 7"
    assert "ProcessingEndTime" in job
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.stop_processing_job(ProcessingJobName=unique)
    assert info.value.response["Error"]["Message"] == \
        "The request was rejected because the processing job is in status Failed."


def test_non_utf8_exit_message_is_a_client_error(sm, bucket, process_image, unique):
    sm.create_processing_job(**request(unique, process_image, bucket, arguments=["--mode", "binary-message"]))
    job = wait(sm, unique)
    assert (job["ProcessingJobStatus"], job["FailureReason"]) == (
        "Failed", "ClientError: /opt/ml/output/message on algo-1 is not UTF-8 text.")


def test_stop_interrupts_the_container(sm, bucket, process_image, jobs_gateway, unique):
    sm.create_processing_job(**request(unique, process_image, bucket, arguments=["--mode", "sleep"]))
    deadline = time.monotonic() + 60
    while not any("process starting" in line for lines in log_lines(jobs_gateway, unique).values()
                  for line in lines):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.stop_processing_job(ProcessingJobName=unique)
    assert sm.describe_processing_job(ProcessingJobName=unique)["ProcessingJobStatus"] in ("Stopping", "Stopped")
    job = wait(sm, unique)
    assert job["ProcessingJobStatus"] == "Stopped" and "FailureReason" not in job
    assert job["ExitMessage"] == "stopped by signal SIGINT"
    sm.get_waiter("processing_job_completed_or_stopped").wait(ProcessingJobName=unique,
                                                               WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert error_of(sm.stop_processing_job, ProcessingJobName=unique) == (
        "ValidationException", "The request was rejected because the processing job is in status Stopped.")


def test_max_runtime_fails_the_job(sm, bucket, process_image, unique):
    sm.create_processing_job(**request(unique, process_image, bucket, arguments=["--mode", "sleep"],
                                       StoppingCondition={"MaxRuntimeInSeconds": 2}))
    job = wait(sm, unique)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == ("MaxRuntimeExceeded: the processing job ran longer than "
                                    "StoppingCondition.MaxRuntimeInSeconds (2 seconds) and was stopped.")


def test_instance_type_limits_memory(sm, bucket, process_image, unique):
    sm.create_processing_job(**request(unique, process_image, bucket, arguments=["--mode", "oom"],
                                       ProcessingResources={"ClusterConfig": {
                                           "InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 5}}))
    job = wait(sm, unique)
    assert job["FailureReason"].startswith("OutOfMemoryError: algo-1 ran out of memory (4 GiB on ml.t3.medium)")


def test_sharded_inputs_over_two_hosts(sm, s3, bucket, process_image, jobs_gateway, unique):
    for i in range(6):
        s3.put_object(Bucket=bucket, Key=f"{unique}/shards/part-{i}.csv", Body=str(i).encode())
    s3.put_object(Bucket=bucket, Key=f"{unique}/common/all.csv", Body=b"c")
    body = request(unique, process_image, bucket, arguments=["--mode", "cluster"], count=2, ProcessingInputs=[
        s3_input("shards", f"s3://{bucket}/{unique}/shards/", "/opt/ml/processing/input/shards",
                 S3DataDistributionType="ShardedByS3Key"),
        s3_input("common", f"s3://{bucket}/{unique}/common/", "/opt/ml/processing/input/common")])
    sm.create_processing_job(**body)
    job = wait(sm, unique)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    one, two = evidence(s3, bucket, unique, "algo-1"), evidence(s3, bucket, unique, "algo-2")
    assert sorted(k for k in one["inputs"] if k.startswith("shards/")) == [
        "shards/part-0.csv", "shards/part-2.csv", "shards/part-4.csv"]
    assert sorted(k for k in two["inputs"] if k.startswith("shards/")) == [
        "shards/part-1.csv", "shards/part-3.csv", "shards/part-5.csv"]
    assert one["inputs"]["common/all.csv"] == two["inputs"]["common/all.csv"] == "c"
    assert one["resourceconfig"] == {"current_host": "algo-1", "hosts": ["algo-1", "algo-2"]}
    assert two["resourceconfig"] == {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"]}
    assert one["addresses"] == two["addresses"] and len(set(one["addresses"].values())) == 2
    streams = log_lines(jobs_gateway, unique)
    assert sorted(s.split("/")[1].rsplit("-", 1)[0] for s in streams) == ["algo-1", "algo-2"]


def test_continuous_output_is_uploaded_while_the_job_runs(sm, s3, bucket, process_image, unique):
    body = request(unique, process_image, bucket, arguments=["--mode", "continuous", "--seconds", "8"])
    body["ProcessingOutputConfig"]["Outputs"] = [
        s3_output("stream", f"s3://{bucket}/{unique}/stream", "/opt/ml/processing/stream", "Continuous")]
    sm.create_processing_job(**body)
    deadline = time.monotonic() + 60
    while "first.txt" not in keys(s3, bucket, f"{unique}/stream/"):
        assert time.monotonic() < deadline, "first.txt never uploaded"
        time.sleep(0.2)
    assert sm.describe_processing_job(ProcessingJobName=unique)["ProcessingJobStatus"] == "InProgress"
    assert wait(sm, unique)["ProcessingJobStatus"] == "Completed"
    assert keys(s3, bucket, f"{unique}/stream/") == {"first.txt": b"first", "second.txt": b"second"}


def test_missing_image_and_missing_data_are_client_errors(sm, bucket, process_image, unique):
    sm.create_processing_job(**request(unique, "smlocal-test/no-such-image:1", bucket))
    job = wait(sm, unique)
    assert job["FailureReason"].startswith("ClientError: The processing image smlocal-test/no-such-image:1 is not "
                                           "available in the local Docker engine")
    sm.create_processing_job(**request(unique + "-b", process_image, bucket, ProcessingInputs=[
        s3_input("data", f"s3://{bucket}/{unique}/nothing/", "/opt/ml/processing/input")]))
    job = wait(sm, unique + "-b")
    assert job["FailureReason"].startswith(f'ClientError: No S3 objects found under S3 URL "s3://{bucket}/{unique}/'
                                           'nothing/" given in input data source.')


def test_requests_smlocal_cannot_run_are_rejected(sm, bucket, process_image, unique):
    def rejected(**changes) -> str:
        code, message = error_of(sm.create_processing_job, **request(unique, process_image, bucket, **changes))
        assert code == "ValidationException"
        return message

    athena = {"InputName": "q", "DatasetDefinition": {"AthenaDatasetDefinition": {
        "Catalog": "c", "Database": "d", "QueryString": "select 1", "OutputS3Uri": f"s3://{bucket}/q",
        "OutputFormat": "PARQUET"}, "LocalPath": "/opt/ml/processing/q"}}
    assert rejected(ProcessingInputs=[athena]).startswith("ProcessingInput q uses a DatasetDefinition")
    assert rejected(ProcessingInputs=[s3_input("x", f"s3://{bucket}/x", "/tmp/x")]) == (
        "ProcessingInput x S3Input.LocalPath must be a directory under /opt/ml/processing/ (for example "
        "/opt/ml/processing/input), not '/tmp/x'.")
    assert rejected(ProcessingInputs=[s3_input("x", f"s3://{bucket}/x", "/opt/ml/processing/../x")]).startswith(
        "ProcessingInput x S3Input.LocalPath must be a directory under /opt/ml/processing/")
    pipe = s3_input("x", f"s3://{bucket}/x", "/opt/ml/processing/x")
    pipe["S3Input"]["S3InputMode"] = "Pipe"
    assert "Pipe" in rejected(ProcessingInputs=[pipe])
    spark = "173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:3.3-cpu"
    assert rejected(AppSpecification={"ImageUri": spark}).startswith("SageMaker Spark processing images")
    code, message = error_of(sm.create_processing_job, **request(unique, process_image, bucket, count=17))
    assert code == "ResourceLimitExceeded"
    assert sm.list_processing_jobs(NameContains=unique)["ProcessingJobSummaries"] == []


def test_stop_before_the_containers_start(sm, s3, bucket, process_image, unique):
    for i in range(40):
        s3.put_object(Bucket=bucket, Key=f"{unique}/data/part-{i}", Body=b"x" * 65536)
    sm.create_processing_job(**request(unique, process_image, bucket, ProcessingInputs=[
        s3_input("data", f"s3://{bucket}/{unique}/data/", "/opt/ml/processing/input")]))
    sm.stop_processing_job(ProcessingJobName=unique)
    job = wait(sm, unique)
    assert job["ProcessingJobStatus"] == "Stopped" and "ProcessingStartTime" not in job
