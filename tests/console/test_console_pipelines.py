"""Pipelines and the model registry in the console: a real pipeline (a training job in Docker, a
condition on a parameter, RegisterModel or Fail) run through boto3; the browser shows the pipeline's
graph, its executions, an execution's graph with live step statuses (each step linking to its job),
the steps table with metadata; the registry shows the registered version, and Approve on the page
changes what DescribeModelPackage answers; Stop from an execution's page stops it and its job."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from console.waiting import until
from integration.hosting_support import ROLE

pytestmark = pytest.mark.docker


def get(path: str) -> dict:
    return {"Get": path}


def definition(image: str, bucket: str, prefix: str, group: str) -> str:
    train = {"Name": "Train", "Type": "Training", "Arguments": {
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": {"mode": get("Parameters.Mode"), "seconds": get("Parameters.Seconds")},
        "RoleArn": ROLE,
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{prefix}/train/"}}}],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/{prefix}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}
    register = {"Name": "Register", "Type": "RegisterModel", "Arguments": {
        "ModelPackageGroupName": group, "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {"Containers": [{"Image": image, "ModelDataUrl":
                                                   get("Steps.Train.ModelArtifacts.S3ModelArtifacts")}],
                                   "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}}}
    fail = {"Name": "NotShipped", "Type": "Fail", "Arguments": {
        "ErrorMessage": {"Std:Join": {"On": " ", "Values": ["ship was", get("Parameters.Ship")]}}}}
    check = {"Name": "ShipIt", "Type": "Condition", "Arguments": {
        "Conditions": [{"Type": "Equals", "LeftValue": get("Parameters.Ship"), "RightValue": "yes"}],
        "IfSteps": [register], "ElseSteps": [fail]}, "DependsOn": ["Train"]}
    return json.dumps({"Version": "2020-12-01", "Metadata": {}, "Steps": [train, check], "Parameters": [
        {"Name": "Mode", "Type": "String", "DefaultValue": "ok"},
        {"Name": "Seconds", "Type": "String", "DefaultValue": "0"},
        {"Name": "Ship", "Type": "String", "DefaultValue": "yes"}]})


def start(sm, name: str, **parameters: str) -> str:
    return sm.start_pipeline_execution(
        PipelineName=name, ClientRequestToken=str(uuid.uuid4()),
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()])["PipelineExecutionArn"]


def wait_execution(sm, arn: str, statuses: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        if execution["PipelineExecutionStatus"] in statuses:
            return execution
        time.sleep(0.5)
    raise AssertionError(f"{arn} is still {execution['PipelineExecutionStatus']}")


@pytest.fixture
def pipeline(console_gateway, s3, console_bucket, train_image):
    sm = console_gateway.client("sagemaker")
    name = f"console-pipe-{int(time.time() * 1000) % 10**8}-{os.getpid() % 1000}"
    group = f"{name}-models"
    s3.put_object(Bucket=console_bucket, Key=f"{name}/train/data.csv", Body=b"1,2\n")
    sm.create_pipeline(PipelineName=name, RoleArn=ROLE, ClientRequestToken=str(uuid.uuid4()),
                       PipelineDefinition=definition(train_image, console_bucket, name, group),
                       PipelineDescription="train, then register or fail")
    return sm, name, group


def step_statuses(page) -> dict[str, str]:
    return dict(page.locator("svg.dag g.step").evaluate_all("gs => gs.map(g => [g.dataset.step, g.dataset.status])"))


def test_execution_page_draws_the_graph_live_and_the_registry_approves(console_gateway, tab, pipeline):
    sm, name, group = pipeline
    arn = start(sm, name, Seconds="4", Mode="sleep")
    ident = arn.rsplit("/", 1)[1]
    console = tab(console_gateway.url + "/_smlocal")

    console.goto("/")
    console.page.locator("nav a", has_text="Pipelines").click()
    row = console.page.locator(f'tr[data-name="{name}"]')
    row.wait_for()
    row.locator("a").first.click()
    page = console.page
    assert page.locator("h1[data-pipeline-name]").inner_text() == name
    assert set(step_statuses(page)) == {"Train", "ShipIt", "Register", "NotShipped"}
    edges = page.locator("svg.dag path.edge").evaluate_all("ps => ps.map(p => [p.dataset.from, p.dataset.to])")
    # the condition's branches, its DependsOn, and Register's data dependency on Train's artifact
    assert sorted(map(tuple, edges)) == [("ShipIt", "NotShipped"), ("ShipIt", "Register"), ("Train", "Register"),
                                         ("Train", "ShipIt")]
    page.locator(f'[data-executions] tr[data-execution="{ident}"] a').click()

    # the graph follows the execution without a reload: Train executes, then the branch runs
    until(lambda: step_statuses(page).get("Train") in ("Starting", "Executing"), timeout=60)
    console.shot("pipeline-running")
    page.locator("#live .badge", has_text="Succeeded").first.wait_for(timeout=240_000)
    execution = wait_execution(sm, arn, ("Succeeded",))
    assert execution["PipelineExecutionStatus"] == "Succeeded"
    until(lambda: step_statuses(page) == {"Train": "Succeeded", "ShipIt": "Succeeded", "Register": "Succeeded",
                                          "NotShipped": ""}, timeout=15)

    # the steps table is what ListPipelineExecutionSteps says; steps link to what they made
    listed = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    shown = dict(page.locator("[data-steps] tr[data-step]").evaluate_all(
        "rs => rs.map(r => [r.dataset.step, r.dataset.status])"))
    assert shown == {s["StepName"]: s["StepStatus"] for s in listed}
    training_arn = next(s for s in listed if s["StepName"] == "Train")["Metadata"]["TrainingJob"]["Arn"]
    training = training_arn.rsplit("/", 1)[1]
    assert "outcome true" in page.locator('[data-steps] tr[data-step="ShipIt"]').inner_text().lower()
    console.shot("pipeline-succeeded", docs="pipeline-execution.png")
    page.locator('svg.dag g.step[data-step="Train"]').click()
    assert page.locator("h1[data-job-name]").inner_text().lower() == training.lower()

    # the registry: the version the pipeline registered, pending; Approve on the page is UpdateModelPackage
    console.goto("/model-registry")
    group_row = console.page.locator(f'tr[data-name="{group}"]')
    assert "PendingManualApproval" in group_row.inner_text()
    group_row.locator("a").click()
    version = console.page.locator('[data-packages] tr[data-version="1"]')
    assert version.get_attribute("data-approval") == "PendingManualApproval"
    version.locator('button[data-approve="Approved"]').click()
    console.page.locator('[data-packages] tr[data-version="1"][data-approval="Approved"]').wait_for()
    package = sm.describe_model_package(ModelPackageName=f"{group}/1")
    assert package["ModelApprovalStatus"] == "Approved"
    model_data = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert model_data.endswith(f"{training}/output/model.tar.gz")
    console.shot("registry-approved", docs="model-registry.png")

    # the false branch: Failed with the Fail step's message, shown on the page
    failed_arn = start(sm, name, Ship="no")
    failed = wait_execution(sm, failed_arn, ("Failed",))
    console.goto(f"/pipelines/{name}/executions/{failed_arn.rsplit('/', 1)[1]}")
    assert failed["FailureReason"] in console.page.locator("[data-failure]").inner_text()
    assert "ship was no" in console.page.locator('[data-steps] tr[data-step="NotShipped"]').inner_text()
    assert step_statuses(console.page)["NotShipped"] == "Failed"
    assert step_statuses(console.page)["Register"] == ""


def test_stop_from_the_execution_page(console_gateway, tab, pipeline):
    sm, name, _ = pipeline
    arn = start(sm, name, Mode="sleep", Seconds="300")
    console = tab(console_gateway.url + "/_smlocal")
    console.goto(f"/pipelines/{name}/executions/{arn.rsplit('/', 1)[1]}")
    page = console.page
    until(lambda: step_statuses(page).get("Train") == "Executing", timeout=120)
    page.locator("summary", has_text="Stop").click()
    page.locator('button[data-confirm="stop"]').click()
    page.locator('#action-result [data-outcome="ok"]').wait_for()
    execution = wait_execution(sm, arn, ("Stopped",), timeout=120)
    assert execution["PipelineExecutionStatus"] == "Stopped"
    page.locator("#live .badge", has_text="Stopped").first.wait_for(timeout=30_000)
    steps = sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]
    train = next(s for s in steps if s["StepName"] == "Train")
    assert train["StepStatus"] == "Stopped"
    job = train["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    assert sm.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Stopped"


def test_unknown_pipeline_execution_and_group_are_not_found_pages(console_gateway, tab, pipeline):
    _, name, _ = pipeline
    console = tab(console_gateway.url + "/_smlocal")
    assert console.goto("/pipelines/no-such-pipeline").status == 404
    assert console.goto(f"/pipelines/{name}/executions/nosuchexec01").status == 404
    assert "has no execution nosuchexec01" in console.page.inner_text("main")
    assert console.goto("/model-registry/no-such-group").status == 404
