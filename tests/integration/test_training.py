"""Training jobs for real: boto3 -> gateway -> Docker containers -> S3, checked from the outside.

The test image (images/train) writes what it saw (config files, env, channels) into
/opt/ml/model/evidence-<host>.json, so these tests read the contract back out of model.tar.gz.
"""

from __future__ import annotations

import io
import json
import tarfile
import time

import botocore.exceptions
import pytest
from support import pool_leftovers

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
GROUP = "/aws/sagemaker/TrainingJobs"


def request(name: str, image: str, bucket: str, **overrides) -> dict:
    body = {
        "TrainingJobName": name, "RoleArn": ROLE,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": {},
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }
    body.update(overrides)
    return body


def channel(name: str, uri: str, **extra) -> dict:
    source = {"S3DataType": extra.pop("S3DataType", "S3Prefix"), "S3Uri": uri,
              "S3DataDistributionType": extra.pop("distribution", "FullyReplicated")}
    return {"ChannelName": name, "DataSource": {"S3DataSource": source}, **extra}


def wait(sm, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"{name} still {job['TrainingJobStatus']}/{job['SecondaryStatus']}")


def wait_for(sm, name: str, secondary: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["SecondaryStatus"] == secondary:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{name} never reached {secondary}: {job['SecondaryStatus']}")


def tarball(s3, uri: str) -> dict[str, bytes]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def evidence(s3, job: dict, host: str = "algo-1") -> dict:
    return json.loads(tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])[f"evidence-{host}.json"])


def log_lines(gateway, name: str) -> dict[str, list[str]]:
    logs = gateway.client("logs")
    try:
        streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    except logs.exceptions.ResourceNotFoundException:     # no job of this gateway has logged yet
        return {}
    out = {}
    for stream in streams:
        events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]
        out[stream["logStreamName"]] = [e["message"] for e in events]
    return out


@pytest.fixture(scope="module", autouse=True)
def nothing_is_left_behind(jobs_gateway):
    """After every job of this module: no containers, networks or work directories remain."""
    yield
    import docker

    client = docker.from_env()
    ours = {j["TrainingJobName"] for j in jobs_gateway.client("sagemaker").list_training_jobs(
        MaxResults=100)["TrainingJobSummaries"]}      # other test sessions may run jobs meanwhile
    deadline = time.monotonic() + 10
    while [c for c in client.api.containers(all=True, filters={"label": "org.smlocal.kind=training-job"})
           if c["Labels"].get("org.smlocal.job") in ours]:
        assert time.monotonic() < deadline, "training containers left behind"
        time.sleep(0.2)
    assert [n for n in client.networks.list(filters={"label": "org.smlocal.kind=training-job"})
            if n.name.removeprefix("smlocal-train-") in ours] == []
    assert pool_leftovers(jobs_gateway) == []            # networks jobs took from the pool
    workspace = jobs_gateway.settings.data_dir / "jobs" / "training"
    while workspace.exists() and list(workspace.iterdir()):     # the runner cleans up after the last status
        assert time.monotonic() < deadline, f"work directories left behind: {list(workspace.iterdir())}"
        time.sleep(0.2)


@pytest.fixture
def sm(jobs_gateway):
    return jobs_gateway.client("sagemaker")


def test_success_contract_artifacts_and_record(sm, s3, bucket, train_image, jobs_gateway, unique):
    s3.put_object(Bucket=bucket, Key=f"{unique}/train/part-a.csv", Body=b"a")
    s3.put_object(Bucket=bucket, Key=f"{unique}/train/nested/part-b.csv", Body=b"bb")
    s3.put_object(Bucket=bucket, Key=f"{unique}/valid.csv", Body=b"v")
    body = request(unique, train_image, bucket, HyperParameters={"epochs": "2", "lr": "0.1", "name": "x"},
                   Environment={"MY_SETTING": "on"},
                   InputDataConfig=[channel("train", f"s3://{bucket}/{unique}/train/", ContentType="text/csv"),
                                    channel("validation", f"s3://{bucket}/{unique}/valid", InputMode="FastFile")],
                   Tags=[{"Key": "team", "Value": "ml"}])
    arn = sm.create_training_job(**body)["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{unique}"
    job = wait(sm, unique)
    assert job["TrainingJobStatus"] == "Completed" and job["SecondaryStatus"] == "Completed"
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == [
        "Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all("StartTime" in t and "EndTime" in t for t in job["SecondaryStatusTransitions"])
    assert "3 B in 2 objects" not in job["SecondaryStatusTransitions"][1]["StatusMessage"]
    assert job["SecondaryStatusTransitions"][1]["StatusMessage"].startswith("Downloaded input data: 4 B in 3 objects")
    assert job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert job["TrainingTimeInSeconds"] >= 1 and job["BillableTimeInSeconds"] == job["TrainingTimeInSeconds"]
    assert job["OutputDataConfig"]["KmsKeyId"] == "" and job["EnableNetworkIsolation"] is False
    model_uri = f"s3://{bucket}/output/{unique}/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == model_uri
    assert sorted(tarball(s3, model_uri)) == ["evidence-algo-1.json", "model.txt"]  # contents at the root
    assert tarball(s3, f"s3://{bucket}/output/{unique}/output/output.tar.gz") == {"report-algo-1.txt": b"report"}

    seen = evidence(s3, job)
    assert seen["argv"][1:] == [] and seen["argv"][0].endswith("train")
    assert seen["hyperparameters"] == {"epochs": "2", "lr": "0.1", "name": "x"}
    assert seen["resourceconfig"] == {
        "current_host": "algo-1", "current_instance_type": "ml.m5.large", "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"], "network_interface_name": "eth0",
        "instance_groups": [{"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large",
                             "hosts": ["algo-1"]}]}
    assert seen["inputdataconfig"] == {
        "train": {"ContentType": "text/csv", "TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                  "RecordWrapperType": "None"},
        "validation": {"TrainingInputMode": "FastFile", "S3DistributionType": "FullyReplicated",
                       "RecordWrapperType": "None"}}
    assert seen["checkpointconfig"] is None
    assert seen["channels"] == {"train": {"part-a.csv": "a", "nested/part-b.csv": "bb"},
                                "validation": {"valid.csv": "v"}}
    env = seen["env"]
    assert env["TRAINING_JOB_NAME"] == unique and env["TRAINING_JOB_ARN"] == arn
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["MY_SETTING"] == "on"
    assert env["S3_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL_S3"] and env["S3_ENDPOINT_URL"].startswith("http://")
    assert env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert not [k for k in env if k.startswith("SM_")]
    assert seen["s3"] == "403", "S3 must be reachable from the container (anonymous -> AccessDenied)"
    assert seen["hostname"] == "algo-1"

    lines = log_lines(jobs_gateway, unique)
    [(stream, messages)] = lines.items()
    assert stream.startswith(f"{unique}/algo-1-")
    assert messages[0] == "starting on algo-1 with argv []" and messages[-1] == "done on algo-1"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    summaries = sm.list_training_jobs(NameContains=unique)["TrainingJobSummaries"]
    assert [(s["TrainingJobName"], s["TrainingJobStatus"]) for s in summaries] == [(unique, "Completed")]


def test_fastfile_channels_are_read_only(sm, s3, bucket, train_image, unique):
    s3.put_object(Bucket=bucket, Key=f"{unique}/x.txt", Body=b"x")
    entrypoint = ["/bin/sh", "-c", "touch /opt/ml/input/data/ro/new 2>/dev/null && exit 1; "
                                   "touch /opt/ml/input/data/rw/new && exec train"]
    body = request(unique, train_image, bucket,
                   AlgorithmSpecification={"TrainingImage": train_image, "TrainingInputMode": "File",
                                           "ContainerEntrypoint": entrypoint},
                   InputDataConfig=[channel("ro", f"s3://{bucket}/{unique}/", InputMode="FastFile"),
                                    channel("rw", f"s3://{bucket}/{unique}/")])
    sm.create_training_job(**body)
    assert wait(sm, unique)["TrainingJobStatus"] == "Completed"


def test_entrypoint_and_arguments_override_train(sm, s3, bucket, train_image, unique):
    body = request(unique, train_image, bucket, AlgorithmSpecification={
        "TrainingImage": train_image, "TrainingInputMode": "File",
        "ContainerEntrypoint": ["python3", "/usr/local/bin/train"], "ContainerArguments": ["--alpha", "1"]})
    sm.create_training_job(**body)
    job = wait(sm, unique)
    assert evidence(s3, job)["argv"] == ["/usr/local/bin/train", "--alpha", "1"]


def test_failure_file_becomes_the_failure_reason(sm, bucket, train_image, unique):
    sm.create_training_job(**request(unique, train_image, bucket,
                                     HyperParameters={"mode": "fail-file", "message": "bad learning rate"}))
    job = wait(sm, unique)
    assert job["TrainingJobStatus"] == "Failed" and job["SecondaryStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: bad learning rate"
    assert "ModelArtifacts" not in job


def test_exit_code_without_failure_file_names_the_code_and_log_tail(sm, bucket, train_image, unique):
    sm.create_training_job(**request(unique, train_image, bucket, HyperParameters={"mode": "exit", "exit_code": "7"}))
    job = wait(sm, unique)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: algo-1 exited with code 7 and wrote no "
                                           "/opt/ml/output/failure. Last log lines:\n")
    assert "about to exit badly" in job["FailureReason"]


def test_missing_image_and_missing_data_are_client_errors(sm, bucket, train_image, unique):
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-team/trainer:3"  # a private ECR image, never pulled
    sm.create_training_job(**request(unique, image, bucket))
    job = wait(sm, unique)
    assert job["FailureReason"] == (
        f"ClientError: The training image {image} is not available in the local Docker engine and smlocal never "
        f"pulls from a registry: build or `docker load` the image, then `docker tag` it as {image}.")
    sm.create_training_job(**request(unique + "-b", train_image, bucket,
                                     InputDataConfig=[channel("train", f"s3://{bucket}/{unique}/nothing-here/")]))
    job = wait(sm, unique + "-b")
    assert job["FailureReason"] == (
        f'ClientError: No S3 objects found under S3 URL "s3://{bucket}/{unique}/nothing-here/" given in input data '
        'source. Please ensure that the bucket exists in the selected region (us-east-1), that objects exist under '
        f'that S3 prefix, and that the role has "s3:ListBucket" permissions on bucket "{bucket}".')


def test_stop_sends_sigterm_and_still_uploads(sm, s3, bucket, train_image, jobs_gateway, unique):
    sm.create_training_job(**request(unique, train_image, bucket, HyperParameters={"mode": "sleep", "seconds": "60"}))
    wait_for(sm, unique, "Training")
    deadline = time.monotonic() + 120     # the image logs "starting" once its SIGTERM handler is installed
    while not any(line.startswith("starting on") for lines in log_lines(jobs_gateway, unique).values()
                  for line in lines):
        assert time.monotonic() < deadline, "the container never logged its start"
        time.sleep(0.2)
    sm.stop_training_job(TrainingJobName=unique)
    assert sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] in ("Stopping", "Stopped")
    job = wait(sm, unique)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-3:] == ["Stopping", "Uploading", "Stopped"]
    assert tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])["terminated.txt"] == b"saved on SIGTERM"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.stop_training_job(TrainingJobName=unique)
    assert info.value.response["Error"]["Message"] == \
        "The request was rejected because the training job is in status Stopped."


def test_max_runtime_stops_the_job(sm, s3, bucket, train_image, unique):
    sm.create_training_job(**request(unique, train_image, bucket, HyperParameters={"mode": "sleep", "seconds": "60"},
                                     StoppingCondition={"MaxRuntimeInSeconds": 2}))
    job = wait(sm, unique)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")
    assert "terminated.txt" in tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])


def test_two_hosts_reach_each_other_and_share_the_work(sm, s3, bucket, train_image, jobs_gateway, unique):
    for i in range(6):
        s3.put_object(Bucket=bucket, Key=f"{unique}/shards/part-{i}.csv", Body=str(i).encode())
    s3.put_object(Bucket=bucket, Key=f"{unique}/all/common.csv", Body=b"c")
    body = request(unique, train_image, bucket, HyperParameters={"mode": "cluster"},
                   ResourceConfig={"InstanceType": "ml.c5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 5},
                   InputDataConfig=[channel("shards", f"s3://{bucket}/{unique}/shards/", distribution="ShardedByS3Key"),
                                    channel("all", f"s3://{bucket}/{unique}/all/")])
    sm.create_training_job(**body)
    job = wait(sm, unique)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    one, two = evidence(s3, job, "algo-1"), evidence(s3, job, "algo-2")
    assert one["received"] == "hello from algo-2" and "algo-1" in two["peers"]
    assert one["resourceconfig"]["hosts"] == two["resourceconfig"]["hosts"] == ["algo-1", "algo-2"]
    assert (one["resourceconfig"]["current_host"], two["resourceconfig"]["current_host"]) == ("algo-1", "algo-2")
    assert sorted(one["channels"]["shards"]) == ["part-0.csv", "part-2.csv", "part-4.csv"]
    assert sorted(two["channels"]["shards"]) == ["part-1.csv", "part-3.csv", "part-5.csv"]
    assert one["channels"]["all"] == two["channels"]["all"] == {"common.csv": "c"}
    assert one["inputdataconfig"]["shards"]["S3DistributionType"] == "ShardedByS3Key"
    streams = log_lines(jobs_gateway, unique)
    assert sorted(s.split("/")[1].rsplit("-", 1)[0] for s in streams) == ["algo-1", "algo-2"]


def test_any_failing_host_fails_the_job_and_stops_the_others(sm, bucket, train_image, unique):
    entrypoint = ["/bin/sh", "-c", 'if [ "$(hostname)" = algo-2 ]; then echo "oops" > /opt/ml/output/failure; '
                                   'exit 1; fi; sleep 60']
    sm.create_training_job(**request(unique, train_image, bucket, AlgorithmSpecification={
        "TrainingImage": train_image, "TrainingInputMode": "File", "ContainerEntrypoint": entrypoint},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 5}))
    started = time.monotonic()
    job = wait(sm, unique)
    assert job["FailureReason"] == "AlgorithmError: oops\n"
    assert time.monotonic() - started < 30, "algo-1 must be stopped, not waited for"


def test_checkpoints_round_trip(sm, s3, bucket, train_image, unique):
    s3.put_object(Bucket=bucket, Key=f"{unique}/ckpt/previous.txt", Body=b"from an earlier run")
    body = request(unique, train_image, bucket, CheckpointConfig={"S3Uri": f"s3://{bucket}/{unique}/ckpt"})
    sm.create_training_job(**body)
    job = wait(sm, unique)
    seen = evidence(s3, job)
    assert seen["checkpointconfig"] == {"S3Uri": f"s3://{bucket}/{unique}/ckpt", "LocalPath": "/opt/ml/checkpoints"}
    assert seen["checkpoints_at_start"] == {"previous.txt": "from an earlier run"}
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{unique}/ckpt/")["Contents"])
    assert keys == [f"{unique}/ckpt/algo-1-step.txt", f"{unique}/ckpt/previous.txt"]


def test_metrics_match_tabs_as_cloudwatch_shows_them(sm, bucket, train_image, jobs_gateway, unique):
    definitions = [{"Name": "train:loss", "Regex": "train-loss=([0-9.]+)"},
                   {"Name": "validation:accuracy", "Regex": "#011val-acc=([0-9.]+)"},
                   {"Name": "never", "Regex": "absent=([0-9]+)"}]
    sm.create_training_job(**request(unique, train_image, bucket, HyperParameters={"epochs": "4"},
                                     AlgorithmSpecification={"TrainingImage": train_image, "TrainingInputMode": "File",
                                                             "MetricDefinitions": definitions}))
    job = wait(sm, unique)
    final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert final == {"train:loss": 0.25, "validation:accuracy": 0.3}
    series = jobs_gateway.emulator.jobs.services.metrics.series(job["TrainingJobArn"])
    assert [value for _, value in series["train:loss"]] == [1.0, 0.5, 0.3333, 0.25]


def test_out_of_memory_is_reported(sm, bucket, train_image, unique):
    sm.create_training_job(**request(unique, train_image, bucket, HyperParameters={"mode": "oom"},
                                     ResourceConfig={"InstanceType": "ml.t3.medium", "InstanceCount": 1,
                                                     "VolumeSizeInGB": 5}))
    job = wait(sm, unique)
    assert job["FailureReason"].startswith("OutOfMemoryError: algo-1 ran out of memory (4 GiB on ml.t3.medium)")


def test_botocore_waiter_and_validation(sm, bucket, train_image, unique):
    sm.create_training_job(**request(unique, train_image, bucket))
    sm.get_waiter("training_job_completed_or_stopped").wait(TrainingJobName=unique,
                                                             WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.create_training_job(**request(unique, train_image, bucket))
    assert info.value.response["Error"]["Code"] == "ResourceInUse"
    pipe = request(unique + "-pipe", train_image, bucket)
    pipe["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    with pytest.raises(botocore.exceptions.ClientError, match="Pipe is not supported"):
        sm.create_training_job(**pipe)


def test_jobs_beyond_the_concurrency_limit_wait_in_starting(tmp_path, s3_server, bucket, train_image):
    from support import live_gateway

    with live_gateway(tmp_path, s3=s3_server, max_concurrent_jobs=1, stop_grace_seconds=1) as gateway:
        sm = gateway.client("sagemaker")
        sm.create_training_job(**request("first", train_image, bucket, HyperParameters={"mode": "sleep",
                                                                                         "seconds": "3"}))
        sm.create_training_job(**request("second", train_image, bucket))
        queued = sm.describe_training_job(TrainingJobName="second")
        assert queued["SecondaryStatus"] == "Starting"
        assert queued["SecondaryStatusTransitions"][-1]["StatusMessage"].startswith("Waiting for a free job slot")
        first, second = wait(sm, "first"), wait(sm, "second")
        assert first["TrainingJobStatus"] == second["TrainingJobStatus"] == "Completed"
        assert second["TrainingStartTime"] >= first["TrainingEndTime"]


def test_stop_before_the_container_starts_ends_stopped_without_training(sm, s3, bucket, train_image, unique):
    for i in range(40):
        s3.put_object(Bucket=bucket, Key=f"{unique}/data/part-{i}", Body=b"x" * 65536)
    sm.create_training_job(**request(unique, train_image, bucket,
                                     InputDataConfig=[channel("train", f"s3://{bucket}/{unique}/data/")]))
    sm.stop_training_job(TrainingJobName=unique)
    job = wait(sm, unique)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert "Training" not in [t["Status"] for t in job["SecondaryStatusTransitions"]]
