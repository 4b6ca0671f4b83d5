"""SageMaker Pipelines on the in-memory container runtime, through boto3: a pipeline with parameters,
Processing -> Training -> evaluation Processing with a PropertyFile -> Condition (Std:JsonGet) ->
RegisterModel + Model + Transform, or Fail; validation of definitions; caching; Stop; Retry; a restart
of the gateway mid-execution; EndpointConfig and Endpoint steps (create, then update); step types smlocal
does not run, and the @step function and ForEach steps it refuses at StartPipelineExecution."""

from __future__ import annotations

import copy
import json
import threading
import time

import boto3
import botocore.exceptions
import pytest
from fake_runtime import FakeRuntime, exits_before_ping, fails, runs_until_stopped, serves, trains
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway

from emulator.config import S3Settings

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "fake-pipelines"
RELEASE = threading.Event()
FLAKY_CALLS: list[int] = []
CLUSTER = {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}}


def _prepares(process) -> int:
    (process.path("/opt/ml/processing/train") / "train.csv").write_text("1,2\n3,4\n")
    return 0


def _evaluates(process) -> int:
    model = process.path("/opt/ml/processing/model")
    assert any(model.rglob("*")), "the model artifacts were staged"
    report = {"regression_metrics": {"mse": {"value": float(process.env["MSE"])}}}
    (process.path("/opt/ml/processing/evaluation") / "evaluation.json").write_text(json.dumps(report))
    return 0


def _scores(process) -> int:
    """A tuning trial: prints its score (the hyperparameter ``x``) and saves it as the model."""
    hp = json.loads((process.path("/opt/ml/input/config") / "hyperparameters.json").read_text())
    process.log(f"score={float(hp['x']):.3f}")
    (process.path("/opt/ml/model") / "model.txt").write_text(hp["x"])
    return 0


def _flaky(process) -> int:
    """Fails the first time it runs, trains after."""
    FLAKY_CALLS.append(1)
    if len(FLAKY_CALLS) == 1:
        (process.path("/opt/ml/output") / "failure").write_text("ValueError: first attempt")
        return 2
    (process.path("/opt/ml/model") / "model.txt").write_text("second attempt")
    return 0


@pytest.fixture(scope="module")
def runtime() -> FakeRuntime:
    return FakeRuntime({
        "fake/prep:1": _prepares, "fake/eval:1": _evaluates, "fake/trains:1": trains(),
        "fake/fails:1": fails(), "fake/waits:1": runs_until_stopped(),
        "fake/released:1": runs_until_stopped(release=RELEASE), "fake/flaky:1": _flaky,
        "fake/serves:1": serves(), "fake/noop:1": lambda process: 0,
        "fake/scores:1": _scores, "fake/crashes:1": exits_before_ping()})


@pytest.fixture(scope="module")
def s3_settings(embedded_s3) -> S3Settings:
    return S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)


@pytest.fixture(scope="module")
def s3(embedded_s3):
    client = boto3.client("s3", endpoint_url=embedded_s3.endpoint, region_name=REGION,
                          aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="batch/in.csv", Body=b"1,2\n3,4\n")
    return client


@pytest.fixture(scope="module")
def gw(tmp_path_factory, runtime, s3_settings, s3):
    with live_gateway(tmp_path_factory.mktemp("pipelines"), s3=s3_settings, containers=runtime,
                      stop_grace_seconds=2) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def sm(gw):
    return gw.client("sagemaker")


def get(path: str) -> dict:
    return {"Get": path}


def join(*values, on: str = "/") -> dict:
    return {"Std:Join": {"On": on, "Values": list(values)}}


def definition(cache: bool = True) -> dict:
    """The SDK's shape of a definition (what ``Pipeline.definition()`` emits for such a pipeline)."""
    cached = {"CacheConfig": {"Enabled": True, "ExpireAfter": "PT1H"}} if cache else {}
    prefix = get("Parameters.Prefix")
    prep = {"Name": "Prep", "Type": "Processing", **cached, "Arguments": {
        "RoleArn": ROLE, "AppSpecification": {"ImageUri": "fake/prep:1"}, "ProcessingResources": CLUSTER,
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "train", "S3Output": {
            "S3Uri": join(f"s3://{BUCKET}", prefix, "prep"), "LocalPath": "/opt/ml/processing/train",
            "S3UploadMode": "EndOfJob"}}]}}}
    train = {"Name": "Train", "Type": "Training", **cached, "Arguments": {
        "RoleArn": ROLE, "AlgorithmSpecification": {"TrainingImage": get("Parameters.TrainImage"),
                                                    "TrainingInputMode": "File"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix",
            "S3Uri": get("Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri")}}}],
        "OutputDataConfig": {"S3OutputPath": join(f"s3://{BUCKET}", prefix, "model")},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}
    evaluate = {"Name": "Evaluate", "Type": "Processing", "Arguments": {
        "RoleArn": ROLE, "AppSpecification": {"ImageUri": "fake/eval:1"}, "ProcessingResources": CLUSTER,
        "Environment": {"MSE": get("Parameters.Mse")},
        "ProcessingInputs": [{"InputName": "model", "S3Input": {
            "S3Uri": get("Steps.Train.ModelArtifacts.S3ModelArtifacts"), "LocalPath": "/opt/ml/processing/model",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "evaluation", "S3Output": {
            "S3Uri": join(f"s3://{BUCKET}", prefix, "eval", get("Execution.PipelineExecutionId")),
            "LocalPath": "/opt/ml/processing/evaluation", "S3UploadMode": "EndOfJob"}}]}},
        "PropertyFiles": [{"PropertyFileName": "EvaluationReport", "OutputName": "evaluation",
                           "FilePath": "evaluation.json"}]}
    container = {"Image": "fake/serves:1", "ModelDataUrl": get("Steps.Train.ModelArtifacts.S3ModelArtifacts")}
    register = {"Name": "Register", "Type": "RegisterModel", "Arguments": {
        "ModelPackageGroupName": get("Parameters.Group"), "ModelApprovalStatus": "Approved",
        "InferenceSpecification": {"Containers": [container], "SupportedContentTypes": ["text/csv"],
                                   "SupportedResponseMIMETypes": ["text/csv"]}}}
    model = {"Name": "CreateModel", "Type": "Model", "Arguments": {"ExecutionRoleArn": ROLE,
                                                                   "PrimaryContainer": container}}
    batch = {"Name": "Batch", "Type": "Transform", "Arguments": {
        "ModelName": get("Steps.CreateModel.ModelName"), "BatchStrategy": "SingleRecord",
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                           "S3Uri": f"s3://{BUCKET}/batch"}},
                           "ContentType": "text/csv", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": join(f"s3://{BUCKET}", prefix, "batch",
                                                 get("Execution.PipelineExecutionId")), "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}}
    fail = {"Name": "TooInaccurate", "Type": "Fail", "Arguments": {
        "ErrorMessage": join("MSE above", get("Parameters.MseThreshold"), on=" ")}}
    check = {"Name": "Check", "Type": "Condition", "Arguments": {
        "Conditions": [{"Type": "LessThanOrEqualTo",
                        "LeftValue": {"Std:JsonGet": {
                            "PropertyFile": get("Steps.Evaluate.PropertyFiles.EvaluationReport"),
                            "Path": "regression_metrics.mse.value"}},
                        "RightValue": get("Parameters.MseThreshold")}],
        "IfSteps": [register, model, batch], "ElseSteps": [fail]}}
    return {"Version": "2020-12-01", "Metadata": {},
            "Parameters": [{"Name": "Prefix", "Type": "String"},
                           {"Name": "TrainImage", "Type": "String", "DefaultValue": "fake/trains:1"},
                           {"Name": "Mse", "Type": "String", "DefaultValue": "0.2"},
                           {"Name": "MseThreshold", "Type": "Float", "DefaultValue": 0.5},
                           {"Name": "Group", "Type": "String", "DefaultValue": "fake-pipeline-models"}],
            "PipelineExperimentConfig": {"ExperimentName": get("Execution.PipelineName"),
                                         "TrialName": get("Execution.PipelineExecutionId")},
            "Steps": [prep, train, evaluate, check]}


def create(sm, name: str, body: dict | None = None, **extra) -> str:
    return sm.create_pipeline(PipelineName=name, RoleArn=ROLE, PipelineDefinition=json.dumps(body or definition()),
                              **extra)["PipelineArn"]


def start(sm, name: str, **parameters) -> str:
    values = {"Prefix": name, **parameters}
    return sm.start_pipeline_execution(
        PipelineName=name, PipelineParameters=[{"Name": k, "Value": str(v)} for k, v in values.items()]
    )["PipelineExecutionArn"]


def wait(sm, arn: str, statuses=("Succeeded", "Failed", "Stopped"), timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        record = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if record["PipelineExecutionStatus"] in statuses:
            return record
        assert time.monotonic() < deadline, f"still {record['PipelineExecutionStatus']}: {steps(sm, arn)}"
        time.sleep(0.1)


def steps(sm, arn: str) -> dict[str, dict]:
    return {s["StepName"]: s for s in sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)
            ["PipelineExecutionSteps"]}


def wait_step(sm, arn: str, step: str, status: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = steps(sm, arn).get(step)
        if found and found["StepStatus"] == status:
            return found
        assert time.monotonic() < deadline, f"step {step}: {found}"
        time.sleep(0.1)


def error(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


# --- the API and validation -------------------------------------------------------------------------------
def test_create_describe_update_list_delete_and_the_duplicate_error_the_sdk_upsert_reads(sm, unique) -> None:
    arn = create(sm, unique, PipelineDescription="first")
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{unique.lower()}"
    code, message = error(sm.create_pipeline, PipelineName=unique, RoleArn=ROLE,
                          PipelineDefinition=json.dumps(definition()))
    assert code == "ValidationException" and "already exists" in message
    described = sm.describe_pipeline(PipelineName=unique)
    assert described["PipelineStatus"] == "Active" and described["PipelineDisplayName"] == unique
    assert json.loads(described["PipelineDefinition"]) == definition()
    changed = definition(cache=False)
    updated = sm.update_pipeline(PipelineName=unique, PipelineDefinition=json.dumps(changed),
                                 PipelineDescription="second")
    assert updated["PipelineVersionId"] == 2
    assert sm.describe_pipeline(PipelineName=arn)["PipelineDescription"] == "second"
    assert json.loads(sm.describe_pipeline(PipelineName=unique, PipelineVersionId=1)["PipelineDefinition"]) \
        == definition()
    names = [p["PipelineName"] for p in sm.list_pipelines(PipelineNamePrefix=unique)["PipelineSummaries"]]
    assert names == [unique]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert sm.delete_pipeline(PipelineName=unique)["PipelineArn"] == arn
    code, message = error(sm.describe_pipeline, PipelineName=unique)
    assert (code, message) == ("ResourceNotFound", f"Pipeline '{arn}' does not exist.")


def test_a_definition_in_s3_is_read_at_create(sm, s3, unique) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"{unique}/definition.json", Body=json.dumps(definition()).encode())
    sm.create_pipeline(PipelineName=unique, RoleArn=ROLE,
                       PipelineDefinitionS3Location={"Bucket": BUCKET, "ObjectKey": f"{unique}/definition.json"})
    assert json.loads(sm.describe_pipeline(PipelineName=unique)["PipelineDefinition"]) == definition()


def _broken(kind: str) -> dict:
    body = copy.deepcopy(definition())
    if kind == "duplicate":
        body["Steps"][2]["Name"] = "Train"
    elif kind == "unknown step":
        body["Steps"][1]["DependsOn"] = ["Nowhere"]
    elif kind == "cycle":
        body["Steps"][0]["DependsOn"] = ["Evaluate"]
    elif kind == "missing parameter":
        body["Parameters"] = [p for p in body["Parameters"] if p["Name"] != "Mse"]
    return body


@pytest.mark.parametrize(("kind", "expected"), [
    ("duplicate", "duplicate step name Train"),
    ("unknown step", "depends on step Nowhere, which the pipeline does not define"),
    ("cycle", "the steps form a cycle: Prep -> Evaluate -> Train -> Prep"),
    ("missing parameter", "refers to parameter Mse, which the pipeline does not define"),
])
def test_bad_definitions_are_refused_at_create(sm, unique, kind, expected) -> None:
    code, message = error(sm.create_pipeline, PipelineName=unique, RoleArn=ROLE,
                          PipelineDefinition=json.dumps(_broken(kind)))
    assert code == "ValidationException" and expected in message, message


def test_bad_parameters_are_refused_at_start(sm, unique) -> None:
    create(sm, unique)
    assert error(sm.start_pipeline_execution, PipelineName=unique, PipelineParameters=[
        {"Name": "Prefix", "Value": "x"}, {"Name": "Nope", "Value": "1"}]) == \
        ("ValidationException", "Parameter Nope is not defined in the pipeline definition.")
    assert error(sm.start_pipeline_execution, PipelineName=unique, PipelineParameters=[
        {"Name": "Prefix", "Value": "x"}, {"Name": "MseThreshold", "Value": "high"}]) == \
        ("ValidationException", "Value 'high' for parameter MseThreshold is not a valid Float.")
    assert error(sm.start_pipeline_execution, PipelineName=unique) == \
        ("ValidationException", "Parameter Prefix has no default value and was not given a value.")


# --- execution ----------------------------------------------------------------------------------------------
def test_the_true_branch_registers_creates_a_model_and_transforms(sm, s3, unique) -> None:
    create(sm, unique)
    arn = start(sm, unique)
    assert arn.startswith(f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{unique.lower()}/execution/")
    assert len(arn.rsplit("/", 1)[1]) == 12
    record = wait(sm, arn)
    assert record["PipelineExecutionStatus"] == "Succeeded", (record, steps(sm, arn))
    assert record["PipelineVersionId"] == 1
    assert record["PipelineExperimentConfig"] == {"ExperimentName": unique, "TrialName": arn.rsplit("/", 1)[1]}
    found = steps(sm, arn)
    assert set(found) == {"Prep", "Train", "Evaluate", "Check", "Register", "CreateModel", "Batch"}
    assert all(s["StepStatus"] == "Succeeded" and s["AttemptCount"] == 1 for s in found.values())
    assert found["Check"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    training = found["Train"]["Metadata"]["TrainingJob"]["Arn"]
    job = sm.describe_training_job(TrainingJobName=training.rsplit("/", 1)[1])
    assert job["TrainingJobName"].startswith(f"pipelines-{arn.rsplit('/', 1)[1]}-Train-")
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/{unique}/prep"
    assert found["Prep"]["Metadata"]["ProcessingJob"]["Arn"].startswith("arn:aws:sagemaker:")
    package = sm.describe_model_package(ModelPackageName=found["Register"]["Metadata"]["RegisterModel"]["Arn"])
    assert package["ModelPackageGroupName"] == "fake-pipeline-models" and package["ModelApprovalStatus"] == "Approved"
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == \
        job["ModelArtifacts"]["S3ModelArtifacts"]
    model = found["CreateModel"]["Metadata"]["Model"]["Arn"]
    transform = sm.describe_transform_job(
        TransformJobName=found["Batch"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1])
    assert transform["ModelName"].lower() == model.rsplit("/", 1)[1]
    out = transform["TransformOutput"]["S3OutputPath"]
    assert s3.get_object(Bucket=BUCKET, Key=f"{out.split('/', 3)[3]}/in.csv.out")["Body"].read().splitlines() == \
        [b"echo:1,2", b"echo:3,4"]
    parameters = sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    assert {p["Name"]: p["Value"] for p in parameters} == {
        "Prefix": unique, "TrainImage": "fake/trains:1", "Mse": "0.2", "MseThreshold": "0.5",
        "Group": "fake-pipeline-models"}
    assert json.loads(sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)
                      ["PipelineDefinition"]) == definition()
    summaries = sm.list_pipeline_executions(PipelineName=unique)["PipelineExecutionSummaries"]
    assert [(s["PipelineExecutionArn"], s["PipelineExecutionStatus"]) for s in summaries] == [(arn, "Succeeded")]


def test_the_false_branch_fails_with_the_fail_steps_message(sm, unique) -> None:
    create(sm, unique)
    arn = start(sm, unique, Mse="0.9")
    record = wait(sm, arn)
    assert record["PipelineExecutionStatus"] == "Failed"
    assert record["FailureReason"] == "Step failure: One or multiple steps failed."
    found = steps(sm, arn)
    assert set(found) == {"Prep", "Train", "Evaluate", "Check", "TooInaccurate"}
    assert found["Check"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    assert found["TooInaccurate"]["StepStatus"] == "Failed"
    assert found["TooInaccurate"]["Metadata"] == {"Fail": {"ErrorMessage": "MSE above 0.5"}}
    assert found["TooInaccurate"]["FailureReason"] == "MSE above 0.5"


def _training_jobs(sm, execution_arn: str) -> list[str]:
    ident = execution_arn.rsplit("/", 1)[1]
    return [j["TrainingJobName"] for j in sm.list_training_jobs(NameContains=ident, MaxResults=100)
            ["TrainingJobSummaries"]]


def test_a_second_run_hits_the_cache_and_starts_no_training_job(sm, unique) -> None:
    create(sm, unique)
    first = start(sm, unique)
    assert wait(sm, first)["PipelineExecutionStatus"] == "Succeeded"
    second = start(sm, unique)
    assert wait(sm, second)["PipelineExecutionStatus"] == "Succeeded"
    found, earlier = steps(sm, second), steps(sm, first)
    for name in ("Prep", "Train"):
        assert found[name]["CacheHitResult"] == {"SourcePipelineExecutionArn": first}
        assert found[name]["Metadata"] == earlier[name]["Metadata"]
    assert "CacheHitResult" not in found["Evaluate"]     # no CacheConfig
    assert _training_jobs(sm, second) == []
    # other parameter values make another cache key: Train runs again
    third = start(sm, unique, Prefix=f"{unique}-b")
    assert wait(sm, third)["PipelineExecutionStatus"] == "Succeeded"
    assert "CacheHitResult" not in steps(sm, third)["Train"]
    assert len(_training_jobs(sm, third)) == 1


def test_stop_while_training_stops_the_job(sm, unique) -> None:
    create(sm, unique)
    arn = start(sm, unique, TrainImage="fake/waits:1")
    wait_step(sm, arn, "Train", "Executing")
    time.sleep(0.5)
    assert sm.stop_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionArn"] == arn
    assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] in (
        "Stopping", "Stopped")
    assert wait(sm, arn)["PipelineExecutionStatus"] == "Stopped"
    train = steps(sm, arn)["Train"]
    assert train["StepStatus"] == "Stopped"
    job = sm.describe_training_job(TrainingJobName=train["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1])
    assert job["TrainingJobStatus"] == "Stopped"
    code, message = error(sm.stop_pipeline_execution, PipelineExecutionArn=arn)
    assert code == "ValidationException" and "is in status Stopped" in message


def test_retry_reruns_the_failed_step_and_keeps_the_others(sm, unique) -> None:
    FLAKY_CALLS.clear()
    create(sm, unique)
    arn = start(sm, unique, TrainImage="fake/flaky:1")
    record = wait(sm, arn)
    assert record["PipelineExecutionStatus"] == "Failed"
    failed = steps(sm, arn)
    assert failed["Train"]["StepStatus"] == "Failed"
    assert failed["Train"]["FailureReason"] == "AlgorithmError: ValueError: first attempt"
    assert set(failed) == {"Prep", "Train"}
    code, message = error(sm.retry_pipeline_execution, PipelineExecutionArn=arn.replace(arn[-12:], "x" * 12))
    assert code == "ResourceNotFound"
    sm.retry_pipeline_execution(PipelineExecutionArn=arn)
    assert wait(sm, arn)["PipelineExecutionStatus"] == "Succeeded"
    found = steps(sm, arn)
    assert found["Train"]["AttemptCount"] == 2 and found["Prep"]["AttemptCount"] == 1
    assert found["Prep"]["Metadata"] == failed["Prep"]["Metadata"]
    code, message = error(sm.retry_pipeline_execution, PipelineExecutionArn=arn)
    assert code == "ValidationException" and "is in status Succeeded" in message


def test_update_execution_and_parallelism(sm, unique) -> None:
    body = {"Version": "2020-12-01", "Parameters": [], "Steps": [
        {"Name": f"P{i}", "Type": "Processing", "Arguments": {
            "RoleArn": ROLE, "AppSpecification": {"ImageUri": "fake/noop:1"}, "ProcessingResources": CLUSTER}}
        for i in range(3)]}
    create(sm, unique, body)
    arn = sm.start_pipeline_execution(PipelineName=unique, ParallelismConfiguration={"MaxParallelExecutionSteps": 1},
                                      PipelineExecutionDisplayName="one-at-a-time")["PipelineExecutionArn"]
    sm.update_pipeline_execution(PipelineExecutionArn=arn, PipelineExecutionDescription="described")
    again = sm.start_pipeline_execution(PipelineName=unique, ClientRequestToken="same-request-token-1234567890abc")
    assert sm.start_pipeline_execution(PipelineName=unique, ClientRequestToken="same-request-token-1234567890abc"
                                       )["PipelineExecutionArn"] == again["PipelineExecutionArn"]   # idempotent
    record = wait(sm, arn)
    assert record["PipelineExecutionStatus"] == "Succeeded"
    assert record["PipelineExecutionDescription"] == "described"
    assert wait(sm, again["PipelineExecutionArn"])["PipelineExecutionStatus"] == "Succeeded"
    assert record["PipelineExecutionDisplayName"] == "one-at-a-time"
    assert record["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 1}
    spans = sorted((s["StartTime"], s["EndTime"]) for s in steps(sm, arn).values())
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)), spans


def test_a_step_type_smlocal_does_not_run_fails_naming_the_step_and_type(sm, unique) -> None:
    body = {"Version": "2020-12-01", "Steps": [{"Name": "Notify", "Type": "Lambda", "Arguments": {},
                                                "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f"}]}
    create(sm, unique, body)
    arn = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
    assert wait(sm, arn)["PipelineExecutionStatus"] == "Failed"
    step = steps(sm, arn)["Notify"]
    assert step["StepStatus"] == "Failed"
    assert step["FailureReason"].startswith("Step Notify has type Lambda, which smlocal does not run")


def test_selective_execution_runs_only_the_selected_steps(sm, unique) -> None:
    create(sm, unique)
    first = start(sm, unique)
    assert wait(sm, first)["PipelineExecutionStatus"] == "Succeeded"
    arn = sm.start_pipeline_execution(
        PipelineName=unique, PipelineParameters=[{"Name": "Prefix", "Value": unique}],
        SelectiveExecutionConfig={"SourcePipelineExecutionArn": first, "SelectedSteps": [{"StepName": "Evaluate"}]}
    )["PipelineExecutionArn"]
    assert wait(sm, arn)["PipelineExecutionStatus"] == "Succeeded"
    found = steps(sm, arn)
    # the steps not selected show the source execution's results; only Evaluate ran again
    assert set(found) == {"Prep", "Train", "Evaluate", "Check", "Register", "CreateModel", "Batch"}
    for name in set(found) - {"Evaluate"}:
        assert found[name]["SelectiveExecutionResult"] == {"SourcePipelineExecutionArn": first}
    assert "SelectiveExecutionResult" not in found["Evaluate"]
    assert found["Evaluate"]["Metadata"] != steps(sm, first)["Evaluate"]["Metadata"]
    assert _training_jobs(sm, arn) == []


def test_an_execution_survives_a_gateway_restart(tmp_path, runtime, s3_settings, s3, unique) -> None:
    RELEASE.clear()
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        sm = first.client("sagemaker")
        create(sm, unique)
        arn = start(sm, unique, TrainImage="fake/released:1")
        wait_step(sm, arn, "Train", "Executing")
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        sm = second.client("sagemaker")
        assert sm.describe_pipeline_execution(PipelineExecutionArn=arn)["PipelineExecutionStatus"] == "Executing"
        RELEASE.set()
        record = wait(sm, arn)
        assert record["PipelineExecutionStatus"] == "Succeeded", steps(sm, arn)
        found = steps(sm, arn)
        assert found["Train"]["AttemptCount"] == 1 and len(_training_jobs(sm, arn)) == 1
        assert found["Batch"]["StepStatus"] == "Succeeded"


def test_a_tuning_step_feeds_its_best_trials_model_to_the_next_step(sm, unique) -> None:
    tuning = {"Name": "Tune", "Type": "Tuning", "Arguments": {
        "HyperParameterTuningJobConfig": {
            "Strategy": "Grid", "ResourceLimits": {"MaxParallelTrainingJobs": 3},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ParameterRanges": {"CategoricalParameterRanges": [{"Name": "x", "Values": ["0.2", "0.9", "0.5"]}]}},
        "TrainingJobDefinition": {
            "RoleArn": ROLE, "StaticHyperParameters": {},
            "AlgorithmSpecification": {"TrainingImage": "fake/scores:1", "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": "score", "Regex": "score=([0-9.]+)"}]},
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{unique}/tuning"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}}
    # what the SDK's TuningStep.get_top_model_s3_uri(top_k=0, s3_bucket=..., prefix=...) emits
    top = join("s3:/", BUCKET, f"{unique}/tuning", get("Steps.Tune.TrainingJobSummaries[0].TrainingJobName"),
               "output/model.tar.gz")
    second = get("Steps.Tune.TrainingJobSummaries[1].TrainingJobName")
    model = {"Name": "Best", "Type": "Model", "Arguments": {"ExecutionRoleArn": ROLE, "PrimaryContainer": {
        "Image": "fake/serves:1", "ModelDataUrl": top, "Environment": {"RUNNER_UP": second}}}}
    create(sm, unique, {"Version": "2020-12-01", "Steps": [tuning, model]})
    arn = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
    assert wait(sm, arn)["PipelineExecutionStatus"] == "Succeeded", steps(sm, arn)
    found = steps(sm, arn)
    tuning_name = found["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[1]
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    best = described["BestTrainingJob"]["TrainingJobName"]
    assert described["BestTrainingJob"]["TunedHyperParameters"] == {"x": "0.9"}
    created = sm.describe_model(ModelName=found["Best"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1])
    assert created["PrimaryContainer"]["ModelDataUrl"] == f"s3://{BUCKET}/{unique}/tuning/{best}/output/model.tar.gz"
    trials = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    by_x = {t["TunedHyperParameters"]["x"]: t["TrainingJobName"] for t in trials["TrainingJobSummaries"]}
    assert created["PrimaryContainer"]["Environment"] == {"RUNNER_UP": by_x["0.5"]}


def test_retry_policies_retry_a_retryable_failure_with_backoff_then_fail(sm, unique) -> None:
    tuning = {"Name": "Tune", "Type": "Tuning", "RetryPolicies": [
        {"ExceptionType": ["SageMaker.RESOURCE_LIMIT"], "IntervalSeconds": 1, "BackoffRate": 1.5, "MaxAttempts": 2}],
        "Arguments": {
            "HyperParameterTuningJobConfig": {
                "Strategy": "Random",
                "ResourceLimits": {"MaxParallelTrainingJobs": 101, "MaxNumberOfTrainingJobs": 200},
                "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
                "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}},
            "TrainingJobDefinition": {
                "RoleArn": ROLE, "AlgorithmSpecification": {
                    "TrainingImage": "fake/scores:1", "TrainingInputMode": "File",
                    "MetricDefinitions": [{"Name": "score", "Regex": "score=([0-9.]+)"}]},
                "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{unique}/tuning"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}}
    create(sm, unique, {"Version": "2020-12-01", "Steps": [tuning]})
    started = time.monotonic()
    arn = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
    assert wait(sm, arn)["PipelineExecutionStatus"] == "Failed"
    step = steps(sm, arn)["Tune"]
    assert step["AttemptCount"] == 3                            # the first attempt and MaxAttempts retries
    assert time.monotonic() - started >= 1 + 1.5                # IntervalSeconds * BackoffRate ** n
    assert step["FailureReason"].startswith("ResourceLimitExceeded: A tuning job runs at most 100 training jobs")


def test_the_sdks_tuning_step_and_get_top_model_s3_uri(gw, s3_settings, sm, unique, monkeypatch, tmp_path) -> None:
    """The definition the unmodified SDK 2 compiles (TuningStep, get_top_model_s3_uri, ModelStep), run."""
    from tests_support_sdk import sdk_environment

    sdk_environment(monkeypatch, tmp_path, gw.url, s3_settings, BUCKET)
    from sagemaker.estimator import Estimator
    from sagemaker.model import Model
    from sagemaker.tuner import CategoricalParameter, HyperparameterTuner
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.steps import TuningStep

    session = PipelineSession(default_bucket=BUCKET)
    estimator = Estimator(image_uri="fake/scores:1", role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{BUCKET}/{unique}/tuning", sagemaker_session=session)
    tuner = HyperparameterTuner(estimator, "score", {"x": CategoricalParameter(["0.2", "0.9", "0.5"])},
                                metric_definitions=[{"Name": "score", "Regex": "score=([0-9.]+)"}], strategy="Grid",
                                max_parallel_jobs=3)
    tune = TuningStep(name="Tune", step_args=tuner.fit())
    model = Model(image_uri="fake/serves:1", role=ROLE, sagemaker_session=session,
                  model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=BUCKET, prefix=f"{unique}/tuning"))
    best = ModelStep(name="Best", step_args=model.create(instance_type="ml.m5.large"))
    pipeline = Pipeline(name=unique, steps=[tune, best], sagemaker_session=session)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start()
    execution.wait(delay=1, max_attempts=120)
    found = {s["StepName"]: s for s in execution.list_steps()}
    tuning_name = found["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[1]
    top = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)["BestTrainingJob"]
    assert top["TunedHyperParameters"] == {"x": "0.9"}
    created = sm.describe_model(ModelName=found["Best-CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1])
    assert created["PrimaryContainer"]["ModelDataUrl"] == \
        f"s3://{BUCKET}/{unique}/tuning/{top['TrainingJobName']}/output/model.tar.gz"


# --- SDK 3's newer step types ---------------------------------------------------------------------------
def deploy_definition(endpoint: str, image: str = "fake/serves:1") -> dict:
    """Train -> Model -> EndpointConfig -> Endpoint -> a Condition on the endpoint's properties (the shape
    SDK 3's ``EndpointConfigStep`` / ``EndpointStep`` emit: the CreateEndpointConfig / CreateEndpoint
    requests as Arguments)."""
    train = {"Name": "Train", "Type": "Training", "Arguments": {
        "RoleArn": ROLE, "AlgorithmSpecification": {"TrainingImage": "fake/trains:1", "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/{endpoint}/model"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}
    model = {"Name": "MakeModel", "Type": "Model", "Arguments": {"ExecutionRoleArn": ROLE, "PrimaryContainer": {
        "Image": image, "ModelDataUrl": get("Steps.Train.ModelArtifacts.S3ModelArtifacts")}}}
    config = {"Name": "Config", "Type": "EndpointConfig", "Arguments": {
        "EndpointConfigName": join(endpoint[:40], get("Execution.PipelineExecutionId"), on="-"),
        "ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": get("Steps.MakeModel.ModelName"),
                                "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]}}
    deploy = {"Name": "Deploy", "Type": "Endpoint", "Arguments": {
        "EndpointName": endpoint, "EndpointConfigName": get("Steps.Config.EndpointConfigName")}}
    live = {"Name": "Live", "Type": "Condition", "Arguments": {
        "Conditions": [{"Type": "Equals", "LeftValue": get("Steps.Deploy.EndpointStatus"), "RightValue": "InService"}],
        "IfSteps": [], "ElseSteps": []}}
    return {"Version": "2020-12-01", "Steps": [train, model, config, deploy, live]}


def test_endpoint_config_and_endpoint_steps_create_then_update_the_endpoint(gw, sm, unique) -> None:
    create(sm, unique, deploy_definition(unique))
    first = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
    assert wait(sm, first)["PipelineExecutionStatus"] == "Succeeded", steps(sm, first)
    found = steps(sm, first)
    endpoint = sm.describe_endpoint(EndpointName=unique)
    assert endpoint["EndpointStatus"] == "InService"
    assert found["Deploy"]["Metadata"] == {"Endpoint": {"Arn": endpoint["EndpointArn"]}}
    config_name = f"{unique[:40]}-{first.rsplit('/', 1)[1]}"
    assert endpoint["EndpointConfigName"] == config_name
    config = sm.describe_endpoint_config(EndpointConfigName=config_name)
    assert found["Config"]["Metadata"] == {"EndpointConfig": {"Arn": config["EndpointConfigArn"]}}
    model_arn = found["MakeModel"]["Metadata"]["Model"]["Arn"]
    assert config["ProductionVariants"][0]["ModelName"].lower() == model_arn.rsplit("/", 1)[1]
    assert found["Live"]["Metadata"]["Condition"]["Outcome"] == "True"    # the step's properties: DescribeEndpoint
    assert found["Deploy"]["StartTime"] >= found["Config"]["EndTime"]
    answer = gw.client("sagemaker-runtime").invoke_endpoint(EndpointName=unique, Body=b"hi", ContentType="text/plain")
    assert answer["Body"].read() == b"echo:hi"

    # a second execution: the endpoint exists, so the Endpoint step updates it to the new configuration
    second = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
    assert wait(sm, second)["PipelineExecutionStatus"] == "Succeeded", steps(sm, second)
    updated = sm.describe_endpoint(EndpointName=unique)
    assert updated["EndpointStatus"] == "InService"
    assert updated["EndpointConfigName"] == f"{unique[:40]}-{second.rsplit('/', 1)[1]}"
    assert updated["EndpointArn"] == endpoint["EndpointArn"]
    sm.delete_endpoint(EndpointName=unique)


def test_an_endpoint_step_whose_endpoint_fails_fails_with_its_reason(sm, unique) -> None:
    create(sm, unique, deploy_definition(unique, image="fake/crashes:1"))
    arn = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
    record = wait(sm, arn)
    assert record["PipelineExecutionStatus"] == "Failed"
    assert record["FailureReason"] == "Step failure: One or multiple steps failed."
    found = steps(sm, arn)
    endpoint = sm.describe_endpoint(EndpointName=unique)
    assert endpoint["EndpointStatus"] == "Failed"
    assert found["Deploy"]["StepStatus"] == "Failed"
    assert found["Deploy"]["FailureReason"] == endpoint["FailureReason"]
    assert "Live" not in found
    sm.delete_endpoint(EndpointName=unique)


FUNCTION_STEP = {"Name": "Fn", "Type": "Training", "Arguments": {
    "RoleArn": ROLE, "AlgorithmSpecification": {
        "TrainingImage": "fake/trains:1", "TrainingInputMode": "File",
        "ContainerEntrypoint": ["/bin/bash", "/opt/ml/input/data/sagemaker_remote_function_bootstrap/job_driver.sh"],
        "ContainerArguments": ["--s3_base_uri", f"s3://{BUCKET}/fn", "--pipeline_step_name", "Fn"]},
    "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/fn"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}
FOR_EACH = {"Name": "Fan", "Type": "ForEach", "Arguments": {
    "IterableItems": ["a", "b"], "MaxConcurrency": 2,
    "Selector": {"Pick": "MaxBy", "Field": get("IterationOutput.Item.ProcessingJobStatus")},
    "ForEachBody": [{"Name": "Item", "Type": "Processing", "Arguments": {
        "RoleArn": ROLE, "AppSpecification": {"ImageUri": "fake/noop:1"}, "ProcessingResources": CLUSTER,
        "Environment": {"ITEM": get("ForEach.CurrentItem")}}}]}}


def test_a_function_step_and_a_for_each_step_are_refused_at_start_and_nothing_runs(sm, unique) -> None:
    prep = {"Name": "Before", "Type": "Processing", "Arguments": {
        "RoleArn": ROLE, "AppSpecification": {"ImageUri": "fake/noop:1"}, "ProcessingResources": CLUSTER}}
    for step, message in [
        (FUNCTION_STEP, "Step Fn is a @step function step, which smlocal does not run: its training job runs the "
                        "SageMaker Python SDK's remote-function driver (job_driver.sh), which needs the SDK inside "
                        "the image and unpickles the function from S3. Run the function's code as a script in a "
                        "ProcessingStep or TrainingStep instead (see docs/pipelines.md)."),
        (FOR_EACH, "Step Fan is a ForEach step, which smlocal does not run: it fans its body steps out over a list "
                   "of items at run time. Define one step per item instead (see docs/pipelines.md).")]:
        name = f"{unique[:50]}-{step['Type'].lower()}"
        create(sm, name, {"Version": "2020-12-01", "Steps": [prep, {**step, "DependsOn": ["Before"]}]})
        assert error(sm.start_pipeline_execution, PipelineName=name) == ("ValidationException", message)
        assert sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"] == []


def test_sdk3_step_types_smlocal_does_not_run_are_accepted_and_fail_naming_the_step(sm, unique) -> None:
    body = {"Version": "2020-12-01", "Steps": [{"Name": "Component", "Type": "InferenceComponent", "Arguments": {
        "InferenceComponentName": "ic", "EndpointName": "e", "VariantName": "v", "Specification": {}}}]}
    create(sm, unique, body)
    arn = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
    assert wait(sm, arn)["PipelineExecutionStatus"] == "Failed"
    assert steps(sm, arn)["Component"]["FailureReason"] == (
        "Step Component has type InferenceComponent, which smlocal does not run (it creates an inference "
        "component, which smlocal's endpoints do not host); see docs/pipelines.md for the step types smlocal "
        "executes.")


def test_stop_while_an_endpoint_step_waits_stops_the_step_and_leaves_the_endpoint(sm, unique) -> None:
    RELEASE.clear()
    create(sm, unique, deploy_definition(unique, image="fake/released:1"))    # never answers /ping
    arn = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
    deploy = wait_step(sm, arn, "Deploy", "Executing")
    assert sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] == "Creating"
    assert deploy["Metadata"]["Endpoint"]["Arn"] == sm.describe_endpoint(EndpointName=unique)["EndpointArn"]
    sm.stop_pipeline_execution(PipelineExecutionArn=arn)
    assert wait(sm, arn)["PipelineExecutionStatus"] == "Stopped"
    assert steps(sm, arn)["Deploy"]["StepStatus"] == "Stopped"
    RELEASE.set()        # the container exits without passing /ping: the endpoint fails on its own
    deadline = time.monotonic() + 60
    while sm.describe_endpoint(EndpointName=unique)["EndpointStatus"] != "Failed":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.delete_endpoint(EndpointName=unique)


def test_an_endpoint_step_goes_on_waiting_across_a_gateway_restart(tmp_path, runtime, s3_settings, s3, unique) -> None:
    RELEASE.clear()
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        sm = first.client("sagemaker")
        create(sm, unique, deploy_definition(unique, image="fake/released:1"))
        arn = sm.start_pipeline_execution(PipelineName=unique)["PipelineExecutionArn"]
        wait_step(sm, arn, "Deploy", "Executing")
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        sm = second.client("sagemaker")
        assert steps(sm, arn)["Deploy"]["StepStatus"] == "Executing"
        RELEASE.set()
        assert wait(sm, arn)["PipelineExecutionStatus"] == "Failed"
        endpoint = sm.describe_endpoint(EndpointName=unique)
        assert endpoint["EndpointStatus"] == "Failed"
        assert steps(sm, arn)["Deploy"]["FailureReason"] == endpoint["FailureReason"]
        assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == [unique]
        sm.delete_endpoint(EndpointName=unique)
