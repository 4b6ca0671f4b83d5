"""Job and endpoint lifecycles on the in-memory container runtime (``fake_runtime.FakeRuntime``): the
whole emulator (gateway, domain, job and hosting runtimes, real S3) with no Docker, driven by boto3.
The same scenarios run against real Docker in tests/integration (test_training, test_processing,
test_transform, test_hosting, the *_restart tests)."""

from __future__ import annotations

import io
import tarfile
import threading
import time

import boto3
import pytest
from fake_runtime import FakeRuntime, exits_before_ping, fails, runs_until_stopped, serves, trains
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway, wait_for

from emulator.config import S3Settings

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "fake-lifecycles"
RELEASE = threading.Event()


@pytest.fixture(scope="module")
def runtime() -> FakeRuntime:
    return FakeRuntime({
        "fake/trains:1": trains(lines=("epoch 1", "loss=0.75", "epoch 2", "loss=0.5")),
        "fake/fails:1": fails(),
        "fake/exits:1": fails(code=3, failure=None, lines=("starting", "Traceback: boom")),
        "fake/waits:1": runs_until_stopped(),
        "fake/released:1": runs_until_stopped(release=RELEASE),
        "fake/processes:1": _processes,
        "fake/serves:1": serves(),
        "fake/crashes:1": exits_before_ping(),
        "smlocal/xgboost:1.7-1": serves(),   # AWS's XGBoost images of every version resolve to it
    })


def _processes(process) -> int:
    data = process.path("/opt/ml/processing/input/data")
    out = process.path("/opt/ml/processing/output")
    total = sum(len(p.read_text().splitlines()) for p in sorted(data.rglob("*")) if p.is_file())
    (out / "count.txt").write_text(f"{total} lines on {process.env.get('CURRENT_HOST', process.spec.hostname)}")
    process.log(f"counted {total}")
    return 0


@pytest.fixture(scope="module")
def s3_settings(embedded_s3) -> S3Settings:
    return S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)


@pytest.fixture(scope="module")
def s3(embedded_s3):
    client = boto3.client("s3", endpoint_url=embedded_s3.endpoint, region_name=REGION,
                          aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def gw(tmp_path_factory, runtime, s3_settings, s3):
    with live_gateway(tmp_path_factory.mktemp("fake"), s3=s3_settings, containers=runtime,
                      stop_grace_seconds=2) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def sm(gw):
    return gw.client("sagemaker")



def training(name: str, image: str, **extra) -> dict:
    request = {"TrainingJobName": name, "RoleArn": ROLE,
               "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File",
                                          "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}]},
               "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
               "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
               "StoppingCondition": {"MaxRuntimeInSeconds": 600}}
    request.update(extra)
    return request


def finished_training(sm, name: str) -> dict:
    return wait_for(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus",
                    {"Completed", "Failed", "Stopped"})


def tar_members(s3, uri: str) -> dict[str, bytes]:
    bucket, key = uri[len("s3://"):].split("/", 1)
    data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def log_messages(gw, group: str, prefix: str) -> list[str]:
    logs = gw.client("logs")
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)["logStreams"]
    return [e["message"] for s in streams
            for e in logs.get_log_events(logGroupName=group, logStreamName=s["logStreamName"])["events"]]


# --- training ------------------------------------------------------------------------------------------
def test_training_completes_with_artifacts_metrics_logs_and_no_debris(gw, sm, s3, runtime, unique) -> None:
    sm.create_training_job(**training(unique, "fake/trains:1"))
    job = finished_training(sm, unique)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]] == \
        ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert tar_members(s3, job["ModelArtifacts"]["S3ModelArtifacts"]) == {"model.txt": b"trained"}
    assert [(m["MetricName"], m["Value"]) for m in job["FinalMetricDataList"]] == [("loss", 0.5)]
    assert log_messages(gw, "/aws/sagemaker/TrainingJobs", unique) == ["epoch 1", "loss=0.75", "epoch 2", "loss=0.5"]
    assert not [n for n in runtime.managed() if unique in n]
    assert not [n for n in runtime.networks if unique in n]


def test_training_failures_carry_the_failure_file_or_the_last_log_lines(sm, unique) -> None:
    sm.create_training_job(**training(unique + "-f", "fake/fails:1"))
    sm.create_training_job(**training(unique + "-x", "fake/exits:1"))
    assert finished_training(sm, unique + "-f")["FailureReason"] == "AlgorithmError: ValueError: bad input"
    assert finished_training(sm, unique + "-x")["FailureReason"] == (
        "AlgorithmError: algo-1 exited with code 3 and wrote no /opt/ml/output/failure. "
        "Last log lines:\nstarting\nTraceback: boom")


def test_a_missing_image_fails_the_job_with_a_client_error(sm, unique) -> None:
    sm.create_training_job(**training(unique, "fake/absent:1"))
    job = finished_training(sm, unique)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: The training image fake/absent:1 is not")


def test_stopping_a_training_job_signals_its_container_and_uploads_what_it_saved(gw, sm, s3, unique) -> None:
    sm.create_training_job(**training(unique, "fake/waits:1"))
    wait_for(lambda: sm.describe_training_job(TrainingJobName=unique), "SecondaryStatus", {"Training"})
    sm.stop_training_job(TrainingJobName=unique)
    assert sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] in ("Stopping", "Stopped")
    job = finished_training(sm, unique)
    assert job["TrainingJobStatus"] == "Stopped" and job["SecondaryStatus"] == "Stopped"
    assert tar_members(s3, job["ModelArtifacts"]["S3ModelArtifacts"]) == {"stopped.txt": b"saved on SIGTERM"}
    assert "got SIGTERM" in log_messages(gw, "/aws/sagemaker/TrainingJobs", unique)
    with pytest.raises(sm.exceptions.ClientError, match="training job is in status Stopped"):
        sm.stop_training_job(TrainingJobName=unique)


def test_two_hosts_run_as_algo_1_and_algo_2_on_the_jobs_network(sm, runtime, unique) -> None:
    request = training(unique, "fake/released:1")
    request["ResourceConfig"]["InstanceCount"] = 2
    sm.create_training_job(**request)
    wait_for(lambda: sm.describe_training_job(TrainingJobName=unique), "SecondaryStatus", {"Training"})
    deadline = time.monotonic() + 10    # "Training" is written just before the containers are created
    while len(specs := {c.spec.hostname: c.spec for c in runtime.containers.values() if unique in c.spec.name}) < 2:
        assert time.monotonic() < deadline, specs
        time.sleep(0.02)
    assert sorted(specs) == ["algo-1", "algo-2"]
    assert [s.aliases for _, s in sorted(specs.items())] == [["algo-1"], ["algo-2"]]
    (network,) = {s.network for s in specs.values()}   # its own, or a spare of the pool (jobs/network_pool.py)
    assert network in runtime.networks
    assert [c.spec.name for c in runtime.containers.values() if c.spec.network == network] == \
        [s.name for s in specs.values()]                # one job per network
    sm.stop_training_job(TrainingJobName=unique)
    assert finished_training(sm, unique)["TrainingJobStatus"] == "Stopped"


def test_a_running_job_survives_a_gateway_restart_without_lost_or_repeated_logs(
        tmp_path, runtime, s3_settings, s3, unique) -> None:
    RELEASE.clear()
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        sm = first.client("sagemaker")
        sm.create_training_job(**training(unique, "fake/released:1"))
        wait_for(lambda: sm.describe_training_job(TrainingJobName=unique), "SecondaryStatus", {"Training"})
        time.sleep(0.5)   # the log pump stores "running"
    assert [n for n in runtime.managed() if unique in n]   # containers outlive the gateway, as with Docker
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        sm = second.client("sagemaker")
        assert sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] == "InProgress"
        RELEASE.set()
        job = finished_training(sm, unique)
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        assert log_messages(second, "/aws/sagemaker/TrainingJobs", unique) == ["running", "released"]
    assert not [n for n in runtime.managed() if unique in n]


def test_a_job_whose_containers_vanished_during_a_restart_fails_with_a_reason(
        tmp_path, runtime, s3_settings, unique) -> None:
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        sm = first.client("sagemaker")
        sm.create_training_job(**training(unique, "fake/waits:1"))
        wait_for(lambda: sm.describe_training_job(TrainingJobName=unique), "SecondaryStatus", {"Training"})
    for container in [c for c in runtime.containers.values() if unique in c.spec.name]:
        runtime.remove(container.id)
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        job = finished_training(second.client("sagemaker"), unique)
        assert job["TrainingJobStatus"] == "Failed"
        assert job["FailureReason"].startswith("InternalServerError: smlocal stopped while the job was Training and "
                                               "its containers are gone")


def test_a_job_whose_containers_were_created_but_never_started_starts_again(
        tmp_path, runtime, s3_settings, s3, unique) -> None:
    """smlocal stopped between creating a job's containers and starting them: the next start runs the
    job from the beginning instead of waiting on a container that never starts."""
    RELEASE.clear()
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        sm = first.client("sagemaker")
        sm.create_training_job(**training(unique, "fake/released:1"))
        wait_for(lambda: sm.describe_training_job(TrainingJobName=unique), "SecondaryStatus", {"Training"})
    for container in [c for c in runtime.containers.values() if unique in c.spec.name]:
        runtime.remove(container.id)
        runtime.create(container.spec)   # as the first start left it: created, never started
    assert {runtime.state(c.id).status for c in runtime.containers.values() if unique in c.spec.name} == {"created"}
    RELEASE.set()
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        job = finished_training(second.client("sagemaker"), unique)
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert not [n for n in runtime.managed() if unique in n]


# --- processing and transform -------------------------------------------------------------------------------
def test_processing_stages_inputs_runs_and_uploads_outputs(sm, s3, unique) -> None:
    for index in range(3):
        s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/part-{index}.csv", Body=b"a\nb\n")
    sm.create_processing_job(
        ProcessingJobName=unique, RoleArn=ROLE, AppSpecification={"ImageUri": "fake/processes:1"},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 1}},
        ProcessingInputs=[{"InputName": "data", "S3Input": {
            "S3Uri": f"s3://{BUCKET}/{unique}/in", "LocalPath": "/opt/ml/processing/input/data",
            "S3DataType": "S3Prefix"}}],
        ProcessingOutputConfig={"Outputs": [{"OutputName": "result", "S3Output": {
            "S3Uri": f"s3://{BUCKET}/{unique}/out", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "EndOfJob"}}]})
    job = wait_for(lambda: sm.describe_processing_job(ProcessingJobName=unique), "ProcessingJobStatus",
                   {"Completed", "Failed", "Stopped"})
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert s3.get_object(Bucket=BUCKET, Key=f"{unique}/out/count.txt")["Body"].read() == b"6 lines on algo-1"
    assert job["ProcessingEndTime"] >= job["CreationTime"]


def test_stopping_a_processing_job_sends_sigint(gw, sm, unique) -> None:
    sm.create_processing_job(
        ProcessingJobName=unique, RoleArn=ROLE, AppSpecification={"ImageUri": "fake/waits:1"},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 1}})
    wait_for(lambda: {"seen": "running" in log_messages(gw, "/aws/sagemaker/ProcessingJobs", unique)},
             "seen", {True})
    sm.stop_processing_job(ProcessingJobName=unique)
    job = wait_for(lambda: sm.describe_processing_job(ProcessingJobName=unique), "ProcessingJobStatus",
                   {"Completed", "Failed", "Stopped"})
    assert job["ProcessingJobStatus"] == "Stopped"
    assert "got SIGINT" in log_messages(gw, "/aws/sagemaker/ProcessingJobs", unique)


def test_a_transform_job_sends_every_record_to_the_model_server(sm, s3, runtime, unique) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/a.csv", Body=b"1,2\n3,4\n")
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "fake/serves:1"})
    sm.create_transform_job(
        TransformJobName=unique, ModelName=unique, BatchStrategy="SingleRecord",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{BUCKET}/{unique}/in"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/{unique}/out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    job = wait_for(lambda: sm.describe_transform_job(TransformJobName=unique), "TransformJobStatus",
                   {"Completed", "Failed", "Stopped"})
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    out = s3.get_object(Bucket=BUCKET, Key=f"{unique}/out/a.csv.out")["Body"].read()
    assert out.splitlines() == [b"echo:1,2", b"echo:3,4"]
    assert not [n for n in runtime.managed() if unique in n]



def test_a_transform_job_runs_a_model_created_from_a_model_package(sm, s3, runtime, unique) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/in/a.csv", Body=b"5,6\n")
    sm.create_model_package_group(ModelPackageGroupName=unique)
    package = sm.create_model_package(ModelPackageGroupName=unique, ModelApprovalStatus="Approved",
                                      InferenceSpecification={"Containers": [{"Image": "fake/serves:1"}],
                                                              "SupportedContentTypes": ["text/csv"],
                                                              "SupportedResponseMIMETypes": ["text/csv"]})
    sm.create_model(ModelName=unique, ExecutionRoleArn=ROLE,
                    Containers=[{"ModelPackageName": package["ModelPackageArn"]}])
    sm.create_transform_job(
        TransformJobName=unique, ModelName=unique,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{BUCKET}/{unique}/in"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/{unique}/out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    job = wait_for(lambda: sm.describe_transform_job(TransformJobName=unique), "TransformJobStatus",
                   {"Completed", "Failed", "Stopped"})
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    out = s3.get_object(Bucket=BUCKET, Key=f"{unique}/out/a.csv.out")["Body"].read()
    assert out.splitlines() == [b"echo:5,6"]

# --- endpoints --------------------------------------------------------------------------------------------
def endpoint(sm, name: str, image: str, config: str | None = None) -> str:
    config = config or name
    sm.create_model(ModelName=config, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image})
    sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[{
        "VariantName": "main", "ModelName": config, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}])
    return config


def endpoint_settled(sm, name: str) -> dict:
    return wait_for(lambda: sm.describe_endpoint(EndpointName=name), "EndpointStatus", {"InService", "Failed"})


def test_an_endpoint_serves_updates_blue_green_and_is_deleted_without_debris(gw, sm, runtime, unique) -> None:
    runtime_client = gw.client("sagemaker-runtime")
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=endpoint(sm, unique, "fake/serves:1"))
    assert endpoint_settled(sm, unique)["EndpointStatus"] == "InService"
    answer = runtime_client.invoke_endpoint(EndpointName=unique, Body=b"hello", ContentType="text/plain")
    assert answer["Body"].read() == b"echo:hello" and answer["InvokedProductionVariant"] == "main"
    before = {c for c in runtime.managed() if unique in c}
    sm.update_endpoint(EndpointName=unique, EndpointConfigName=endpoint(sm, unique, "fake/serves:1", unique + "-2"))
    record = wait_for(lambda: sm.describe_endpoint(EndpointName=unique), "EndpointConfigName", {unique + "-2"})
    assert record["EndpointStatus"] == "InService"
    after = {c for c in runtime.managed() if unique in c}
    assert after and not after & before                 # new containers serve, the old ones are gone
    assert runtime_client.invoke_endpoint(EndpointName=unique, Body=b"again")["Body"].read() == b"echo:again"
    sm.delete_endpoint(EndpointName=unique)
    wait_for(lambda: {"gone": unique not in [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]},
             "gone", {True})
    assert not [n for n in runtime.managed() if unique in n]


def test_an_endpoint_whose_container_exits_fails_with_its_last_log_lines(sm, runtime, unique) -> None:
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=endpoint(sm, unique, "fake/crashes:1"))
    record = endpoint_settled(sm, unique)
    assert record["EndpointStatus"] == "Failed"
    assert record["FailureReason"] == (
        "The primary container for production variant main exited with code 1 before passing the ping health "
        "check. Last log lines:\nImportError: no module named model")
    assert not [n for n in runtime.managed() if unique in n]


def test_a_model_error_is_424_with_the_containers_answer(gw, sm, unique) -> None:
    sm.create_endpoint(EndpointName=unique, EndpointConfigName=endpoint(sm, unique, "fake/serves:1"))
    endpoint_settled(sm, unique)
    client = gw.client("sagemaker-runtime")
    with pytest.raises(client.exceptions.ModelError) as raised:
        client.invoke_endpoint(EndpointName=unique, Body=b"status:503:overloaded")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 503 and error["OriginalMessage"] == "overloaded"
    sm.delete_endpoint(EndpointName=unique)


def test_an_endpoint_is_reattached_after_a_gateway_restart(tmp_path, runtime, s3_settings, unique) -> None:
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        sm = first.client("sagemaker")
        sm.create_endpoint(EndpointName=unique, EndpointConfigName=endpoint(sm, unique, "fake/serves:1"))
        assert endpoint_settled(sm, unique)["EndpointStatus"] == "InService"
    containers = [n for n in runtime.managed() if unique in n]
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        answer = second.client("sagemaker-runtime").invoke_endpoint(EndpointName=unique, Body=b"back")
        assert answer["Body"].read() == b"echo:back"
        assert [n for n in runtime.managed() if unique in n] == containers   # the same containers, reattached
        sm = second.client("sagemaker")
        sm.delete_endpoint(EndpointName=unique)
        wait_for(lambda: {"gone": not [n for n in runtime.managed() if unique in n]}, "gone", {True})


def test_an_endpoint_on_a_substituted_version_tells_its_container_the_version_asked_for(sm, runtime, unique) -> None:
    """XGBoost 0.90-2 runs on the local 1.7-1 image; its container learns the version asked for, so the
    toolkit keeps that version's behaviour (docs/images.md, "Older versions"). 1.7-1 itself needs nothing."""
    seen = {}
    for version in ("0.90-2", "1.7-1"):
        name = f"{unique}-{version.replace('.', '')}"
        image = f"683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:{version}-cpu-py3"
        sm.create_endpoint(EndpointName=name, EndpointConfigName=endpoint(sm, name, image))
        assert endpoint_settled(sm, name)["EndpointStatus"] == "InService"
        specs = [c.spec for c in runtime.containers.values() if name in c.spec.name]
        assert [s.image for s in specs] == ["smlocal/xgboost:1.7-1"]
        seen[version] = specs[0].environment.get("SMLOCAL_FRAMEWORK_VERSION")
        sm.delete_endpoint(EndpointName=name)
    assert seen == {"0.90-2": "0.90-2", "1.7-1": None}
