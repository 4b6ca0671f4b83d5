"""Hyperparameter tuning jobs on the in-memory container runtime: real trials (training jobs whose
container is a Python behaviour that prints metric lines computed from its hyperparameters), the whole
emulator, boto3. Strategies, counters, best trial, early stopping, completion criteria, warm start, Stop,
failures, restart recovery, a single job slot shared by two tuning jobs, and the CloudWatch metrics the
SDK's analytics read."""

from __future__ import annotations

import json
import re
import threading
import time

import boto3
import pytest
import rawclient as raw
from botocore.parsers import create_parser
from fake_runtime import FakeRuntime
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway

from emulator.api.service_models import service_model
from emulator.config import S3Settings

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "fake-tuning"
RELEASE = threading.Event()
METRICS = [{"Name": "validation:score", "Regex": r"score=([-0-9.eE+]+)"},
           {"Name": "train:loss", "Regex": r"loss=([-0-9.eE+]+)"}]


def objective(hp: dict[str, str]) -> float:
    """A smooth function with its maximum 1.0 at x=0.3, layers=4, kind=b."""
    x = float(hp.get("x", "0.3"))
    layers = int(hp.get("layers", "4"))
    bonus = {"a": -0.2, "b": 0.0, "c": -0.1}.get(hp.get("kind", "b"), 0.0)
    return round(1.0 - (x - 0.3) ** 2 - 0.01 * (layers - 4) ** 2 + bonus, 6)


def _hyperparameters(process) -> dict[str, str]:
    return json.loads((process.path("/opt/ml/input/config") / "hyperparameters.json").read_text())


def reports_objective(process) -> int:
    """Epochs (hyperparameter ``epochs``, default 1) each printing a score that climbs to the objective;
    ``pause`` seconds between epochs; ``mode`` fail / silent / wait-release change the ending."""
    hp = _hyperparameters(process)
    mode = hp.get("mode", "ok")
    if mode == "fail":
        (process.path("/opt/ml/output") / "failure").write_text("ValueError: diverged")
        return 2
    if mode == "silent":
        process.log("no metrics today")
        (process.path("/opt/ml/model") / "model.txt").write_text("silent")
        return 0
    target = objective(hp)
    if "quality" in hp:
        target = float(hp["quality"])
    epochs = int(hp.get("epochs", "1"))
    for epoch in range(1, epochs + 1):
        process.log(f"epoch {epoch} loss={1 - target * epoch / epochs:.6f} score={target * epoch / epochs:.6f}")
        if process.signalled.wait(float(hp.get("pause", "0"))):
            process.log("stopped")
            return 0
    if mode == "wait-release":
        while not RELEASE.is_set():
            if process.signalled.wait(0.05):
                return 0
    (process.path("/opt/ml/model") / "model.txt").write_text(json.dumps(hp))
    return 0


@pytest.fixture(scope="module")
def runtime() -> FakeRuntime:
    return FakeRuntime({"fake/tune:1": reports_objective})


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
    with live_gateway(tmp_path_factory.mktemp("tuning"), s3=s3_settings, containers=runtime,
                      stop_grace_seconds=2) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def sm(gw):
    return gw.client("sagemaker")


@pytest.fixture
def name(request) -> str:
    """A tuning job name (at most 32 characters) unique to the test."""
    base = re.sub(r"[^a-zA-Z0-9]+", "-", request.node.name.removeprefix("test_"))[:18].strip("-")
    return f"{base}-{int(time.time() * 1000) % 10**8}"


def definition(static: dict[str, str] | None = None, **extra) -> dict:
    spec = {"StaticHyperParameters": static or {},
            "AlgorithmSpecification": {"TrainingImage": "fake/tune:1", "TrainingInputMode": "File",
                                       "MetricDefinitions": METRICS},
            "RoleArn": ROLE, "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}
    spec.update(extra)
    return spec


def config(strategy: str = "Random", max_jobs: int | None = 4, parallel: int = 2, ranges: dict | None = None,
           **extra) -> dict:
    limits = {"MaxParallelTrainingJobs": parallel}
    if max_jobs is not None:
        limits["MaxNumberOfTrainingJobs"] = max_jobs
    out = {"Strategy": strategy, "ResourceLimits": limits,
           "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:score"},
           "ParameterRanges": ranges if ranges is not None else {
               "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}],
               "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "8"}],
               "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}]}}
    out.update(extra)
    return out


def wait_tuning(sm, name: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if job["HyperParameterTuningJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        assert time.monotonic() < deadline, f"still {job['HyperParameterTuningJobStatus']}: {job}"
        time.sleep(0.1)


def trials(sm, name: str, **params) -> list[dict]:
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    return [s for page in pages.paginate(HyperParameterTuningJobName=name, **params)
            for s in page["TrainingJobSummaries"]]


def tuned_sequence(sm, name: str) -> list[dict]:
    return [t["TunedHyperParameters"] for t in trials(sm, name, SortBy="CreationTime", SortOrder="Ascending")]


# --- a whole run ----------------------------------------------------------------------------------------
def test_random_search_runs_max_jobs_trials_and_reports_the_best(sm, runtime, name) -> None:
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name,
                                         HyperParameterTuningJobConfig=config(max_jobs=5, parallel=2, RandomSeed=7),
                                         TrainingJobDefinition=definition({"epochs": "2"}),
                                         Tags=[{"Key": "team", "Value": "ml"}])
    job = wait_tuning(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"] == {"Completed": 5, "InProgress": 0, "RetryableError": 0,
                                                "NonRetryableError": 0, "Stopped": 0}
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 5, "Pending": 0, "Failed": 0}
    assert job["TrainingJobDefinition"]["StaticHyperParameters"] == {"epochs": "2",
                                                                     "_tuning_objective_metric": "validation:score"}
    assert job["HyperParameterTuningEndTime"] >= job["CreationTime"]
    assert job["ConsumedResources"]["RuntimeInSeconds"] >= 0

    summaries = trials(sm, name)
    assert len(summaries) == 5
    assert sorted(int(s["TrainingJobName"].split("-")[-2]) for s in summaries) == [1, 2, 3, 4, 5]
    for summary in summaries:
        assert re.fullmatch(rf"{name}-\d{{3}}-[0-9a-f]{{8}}", summary["TrainingJobName"])
        tuned = summary["TunedHyperParameters"]
        assert set(tuned) == {"x", "layers", "kind"}
        assert 0 <= float(tuned["x"]) <= 1 and 1 <= int(tuned["layers"]) <= 8 and tuned["kind"] in "abc"
        assert summary["FinalHyperParameterTuningJobObjectiveMetric"] == {
            "MetricName": "validation:score", "Value": pytest.approx(objective(tuned)), "Type": "Maximize"}
        assert summary["ObjectiveStatus"] == "Succeeded" and summary["TuningJobName"] == name
        training = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        assert training["TuningJobArn"] == job["HyperParameterTuningJobArn"]
        assert training["HyperParameters"] == {**tuned, "epochs": "2", "_tuning_objective_metric": "validation:score"}
        assert sm.list_tags(ResourceArn=training["TrainingJobArn"])["Tags"] == [{"Key": "team", "Value": "ml"}]
    best = max(summaries, key=lambda s: s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert job["BestTrainingJob"]["TrainingJobName"] == best["TrainingJobName"]
    assert job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == \
        best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert "OverallBestTrainingJob" not in job
    assert not [n for n in runtime.managed() if name in n]

    listed = sm.list_hyper_parameter_tuning_jobs(NameContains=name)["HyperParameterTuningJobSummaries"]
    assert [(s["HyperParameterTuningJobName"], s["Strategy"], s["ResourceLimits"]["MaxNumberOfTrainingJobs"],
             s["TrainingJobStatusCounters"]["Completed"]) for s in listed] == [(name, "Random", 5, 5)]
    assert sm.list_tags(ResourceArn=job["HyperParameterTuningJobArn"])["Tags"] == [{"Key": "team", "Value": "ml"}]


def test_list_training_jobs_sorts_filters_and_pages(sm, name) -> None:
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name,
                                         HyperParameterTuningJobConfig=config(max_jobs=5, parallel=5, RandomSeed=3),
                                         TrainingJobDefinition=definition())
    wait_tuning(sm, name)
    by_value = trials(sm, name, SortBy="FinalObjectiveMetricValue", SortOrder="Descending", MaxResults=2)
    values = [t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in by_value]
    assert len(values) == 5 and values == sorted(values, reverse=True)
    names = [t["TrainingJobName"] for t in trials(sm, name, SortBy="Name", SortOrder="Ascending")]
    assert names == sorted(names)
    assert [t["TrainingJobName"] for t in trials(sm, name)] == sorted(names, reverse=True)   # Name, Descending
    first = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, MaxResults=3)
    assert len(first["TrainingJobSummaries"]) == 3 and "NextToken" in first
    assert trials(sm, name, StatusEquals="Failed") == []
    assert len(trials(sm, name, StatusEquals="Completed")) == 5


def test_bayesian_search_is_reproducible_from_its_random_seed(sm, name) -> None:
    for suffix in ("a", "b"):
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=f"{name}{suffix}",
            HyperParameterTuningJobConfig=config("Bayesian", max_jobs=6, parallel=1, RandomSeed=11),
            TrainingJobDefinition=definition())
    first, second = wait_tuning(sm, f"{name}a"), wait_tuning(sm, f"{name}b")
    assert first["HyperParameterTuningJobStatus"] == second["HyperParameterTuningJobStatus"] == "Completed"
    assert tuned_sequence(sm, f"{name}a") == tuned_sequence(sm, f"{name}b")
    assert first["HyperParameterTuningJobConfig"]["RandomSeed"] == 11


def test_grid_search_runs_every_combination_once(sm, name) -> None:
    ranges = {"IntegerParameterRanges": [{"Name": "layers", "MinValue": "3", "MaxValue": "5"}],
              "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}]}
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name,
                                         HyperParameterTuningJobConfig=config("Grid", max_jobs=None, parallel=3,
                                                                              ranges=ranges),
                                         TrainingJobDefinition=definition())
    job = wait_tuning(sm, name)
    assert job["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 6
    combos = sorted((t["layers"], t["kind"]) for t in tuned_sequence(sm, name))
    assert combos == [(str(n), k) for n in (3, 4, 5) for k in ("a", "b")]
    assert job["BestTrainingJob"]["TunedHyperParameters"] == {"layers": "4", "kind": "b"}


def test_several_definitions_each_get_their_ranges_and_definition_name(sm, name) -> None:
    config_ = config("Random", max_jobs=6, parallel=3, RandomSeed=5)
    config_.pop("HyperParameterTuningJobObjective")
    config_.pop("ParameterRanges")
    goal = {"Type": "Maximize", "MetricName": "validation:score"}
    defs = [definition(DefinitionName="narrow", TuningObjective=goal, HyperParameterRanges={
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0.2", "MaxValue": "0.4"}]}),
            definition(DefinitionName="layers", TuningObjective=goal, HyperParameterRanges={
                "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "3"}]})]
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, HyperParameterTuningJobConfig=config_,
                                         TrainingJobDefinitions=defs)
    job = wait_tuning(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    for summary in trials(sm, name):
        expected = {"narrow": {"x"}, "layers": {"layers"}}[summary["TrainingJobDefinitionName"]]
        assert set(summary["TunedHyperParameters"]) == expected
    assert job["BestTrainingJob"]["TrainingJobDefinitionName"] in ("narrow", "layers")


# --- ending early ---------------------------------------------------------------------------------------
def _quality_grid(values: list[str]) -> dict:
    return {"CategoricalParameterRanges": [{"Name": "quality", "Values": values}]}


def test_early_stopping_stops_a_trial_below_the_median_of_earlier_trials(sm, name) -> None:
    cfg = config("Grid", max_jobs=None, parallel=1, ranges=_quality_grid(["0.9", "0.8", "0.85", "0.1"]),
                 TrainingJobEarlyStoppingType="Auto")
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, HyperParameterTuningJobConfig=cfg,
                                         TrainingJobDefinition=definition({"epochs": "6", "pause": "0.4"}))
    job = wait_tuning(sm, name, timeout=120)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    by_quality = {t["TunedHyperParameters"]["quality"]: t for t in trials(sm, name)}
    assert [by_quality[q]["TrainingJobStatus"] for q in ("0.9", "0.8", "0.85")] == ["Completed"] * 3
    poor = by_quality["0.1"]
    assert poor["TrainingJobStatus"] == "Stopped" and poor["ObjectiveStatus"] == "Succeeded"
    assert poor["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] < 0.1
    assert job["TrainingJobStatusCounters"]["Stopped"] == 1 and job["TrainingJobStatusCounters"]["Completed"] == 3
    assert job["BestTrainingJob"]["TunedHyperParameters"] == {"quality": "0.9"}


def test_a_target_objective_value_completes_the_tuning_job(sm, name) -> None:
    cfg = config("Grid", max_jobs=None, parallel=1, ranges=_quality_grid(["0.5", "0.95", "0.7", "0.6"]),
                 TuningJobCompletionCriteria={"TargetObjectiveMetricValue": 0.9})
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, HyperParameterTuningJobConfig=cfg,
                                         TrainingJobDefinition=definition())
    job = wait_tuning(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert [t["quality"] for t in tuned_sequence(sm, name)] == ["0.5", "0.95"]
    assert job["BestTrainingJob"]["TunedHyperParameters"] == {"quality": "0.95"}


def test_best_objective_not_improving_completes_the_tuning_job(sm, name) -> None:
    values = ["0.8", "0.3", "0.4", "0.5", "0.9", "0.95"]
    cfg = config("Grid", max_jobs=None, parallel=1, ranges=_quality_grid(values),
                 TuningJobCompletionCriteria={"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 3}})
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, HyperParameterTuningJobConfig=cfg,
                                         TrainingJobDefinition=definition())
    job = wait_tuning(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert [t["quality"] for t in tuned_sequence(sm, name)] == values[:4]
    assert job["TuningJobCompletionDetails"]["NumberOfTrainingJobsObjectiveNotImproving"] == 3


def test_trials_that_fail_or_never_report_the_objective_fail_the_tuning_job(sm, name) -> None:
    ranges = {"CategoricalParameterRanges": [{"Name": "mode", "Values": ["fail", "silent"]}]}
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name,
                                         HyperParameterTuningJobConfig=config("Grid", max_jobs=None, parallel=2,
                                                                              ranges=ranges),
                                         TrainingJobDefinition=definition())
    job = wait_tuning(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Failed"
    assert job["FailureReason"] == ("No training job succeeded after 2 attempts. Please take a look at the "
                                    "training job failures to get more details.")
    assert job["TrainingJobStatusCounters"]["NonRetryableError"] == 1
    assert job["TrainingJobStatusCounters"]["Completed"] == 1
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 0, "Pending": 0, "Failed": 2}
    assert "BestTrainingJob" not in job
    failed = trials(sm, name, StatusEquals="Failed")[0]
    assert failed["FailureReason"] == "AlgorithmError: ValueError: diverged" and failed["ObjectiveStatus"] == "Failed"


def test_stop_ends_every_running_trial_and_the_tuning_job_stopped(sm, runtime, name) -> None:
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, HyperParameterTuningJobConfig=config(max_jobs=6, parallel=2),
        TrainingJobDefinition=definition({"epochs": "1000", "pause": "0.2"}))
    deadline = time.monotonic() + 30
    while len([t for t in trials(sm, name) if t["TrainingJobStatus"] == "InProgress"]) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "HyperParameterTuningJobStatus"] in ("Stopping", "Stopped")
    job = wait_tuning(sm, name)
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    assert [t["TrainingJobStatus"] for t in trials(sm, name)] == ["Stopped", "Stopped"]
    assert job["TrainingJobStatusCounters"]["Stopped"] == 2
    assert not [n for n in runtime.managed() if name in n]
    with pytest.raises(sm.exceptions.ClientError, match="hyperparameter tuning job is in status Stopped"):
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    sm.delete_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert len(sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]) == 2   # trials stay


def test_warm_start_learns_from_the_parent_and_reports_the_overall_best(sm, name) -> None:
    parent, child = f"{name}p", f"{name}c"
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=parent, HyperParameterTuningJobConfig=config(max_jobs=3, parallel=3, RandomSeed=1),
        TrainingJobDefinition=definition())
    parent_job = wait_tuning(sm, parent)
    narrow = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0.9", "MaxValue": "1"}],
              "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "2"}],
              "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a"]}]}
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=child,
        HyperParameterTuningJobConfig=config("Bayesian", max_jobs=2, parallel=1, ranges=narrow, RandomSeed=2),
        TrainingJobDefinition=definition(),
        WarmStartConfig={"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
                         "WarmStartType": "IdenticalDataAndAlgorithm"})
    job = wait_tuning(sm, child)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"
    # the child's narrow ranges are far from the optimum: the parent's best stays the overall best
    assert job["OverallBestTrainingJob"]["TrainingJobName"] == parent_job["BestTrainingJob"]["TrainingJobName"]
    assert job["BestTrainingJob"]["TrainingJobName"].startswith(child)
    assert len(trials(sm, child)) == 2


# --- scheduling and recovery ------------------------------------------------------------------------------
def test_two_tuning_jobs_share_a_single_job_slot_without_deadlock(tmp_path, runtime, s3_settings, name) -> None:
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime, max_concurrent_jobs=1) as gateway:
        sm = gateway.client("sagemaker")
        for suffix in ("a", "b"):
            sm.create_hyper_parameter_tuning_job(
                HyperParameterTuningJobName=f"{name}{suffix}",
                HyperParameterTuningJobConfig=config(max_jobs=3, parallel=2),
                TrainingJobDefinition=definition())
        for suffix in ("a", "b"):
            job = wait_tuning(sm, f"{name}{suffix}", timeout=120)
            assert job["HyperParameterTuningJobStatus"] == "Completed"
            assert job["TrainingJobStatusCounters"]["Completed"] == 3


def test_a_tuning_job_survives_a_gateway_restart(tmp_path, runtime, s3_settings, name) -> None:
    RELEASE.clear()
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        sm = first.client("sagemaker")
        sm.create_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name,
            HyperParameterTuningJobConfig=config("Bayesian", max_jobs=4, parallel=2, RandomSeed=4),
            TrainingJobDefinition=definition({"mode": "wait-release"}))
        deadline = time.monotonic() + 30
        while len(trials(sm, name)) < 2 or not all(
                t["TrainingJobStatus"] == "InProgress" and "TrainingStartTime" in t for t in trials(sm, name)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.5)
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        sm = second.client("sagemaker")
        assert sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
            "HyperParameterTuningJobStatus"] == "InProgress"
        RELEASE.set()
        job = wait_tuning(sm, name)
        assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
        assert job["TrainingJobStatusCounters"]["Completed"] == 4
        assert len({t["TrainingJobName"] for t in trials(sm, name)}) == 4


# --- CloudWatch metrics of the trials ---------------------------------------------------------------------
def test_cloudwatch_serves_a_trials_metric_series(gw, sm, name) -> None:
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name,
                                         HyperParameterTuningJobConfig=config(max_jobs=1, parallel=1),
                                         TrainingJobDefinition=definition({"epochs": "4"}))
    job = wait_tuning(sm, name)
    trial = job["BestTrainingJob"]
    cw = gw.client("cloudwatch")
    dims = [{"Name": "TrainingJobName", "Value": trial["TrainingJobName"]}]
    start, end = trial["TrainingStartTime"].timestamp() - 60, time.time() + 60
    stats = cw.get_metric_statistics(Namespace="/aws/sagemaker/TrainingJobs", MetricName="validation:score",
                                     Dimensions=dims, StartTime=start, EndTime=end, Period=3600,
                                     Statistics=["Average", "Maximum", "SampleCount"])
    assert len(stats["Datapoints"]) == 1 and stats["Label"] == "validation:score"
    point = stats["Datapoints"][0]
    final = trial["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert point["SampleCount"] == 4 and point["Maximum"] == pytest.approx(final)
    assert point["Average"] == pytest.approx(final * (1 + 2 + 3 + 4) / 16)
    data = cw.get_metric_data(StartTime=start, EndTime=end, ScanBy="TimestampAscending", MetricDataQueries=[
        {"Id": "score", "MetricStat": {"Metric": {"Namespace": "/aws/sagemaker/TrainingJobs",
                                                  "MetricName": "validation:score", "Dimensions": dims},
                                       "Period": 1, "Stat": "Maximum"}}])
    result = data["MetricDataResults"][0]
    assert result["Id"] == "score" and result["StatusCode"] == "Complete"
    assert result["Values"][-1] == pytest.approx(final)
    listed = cw.list_metrics(Namespace="/aws/sagemaker/TrainingJobs", Dimensions=[dims[0]])["Metrics"]
    assert sorted(m["MetricName"] for m in listed) == ["train:loss", "validation:score"]

    # the query protocol (older botocore, AWS CLI v1): the same answer as XML
    form = {"Action": "GetMetricStatistics", "Version": "2010-08-01", "Namespace": "/aws/sagemaker/TrainingJobs",
            "MetricName": "validation:score", "Period": "3600", "Statistics.member.1": "SampleCount",
            "Statistics.member.2": "Maximum", "Dimensions.member.1.Name": "TrainingJobName",
            "Dimensions.member.1.Value": trial["TrainingJobName"],
            "StartTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
            "EndTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end))}
    response = raw.post_form(gw.url, form)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
    shape = service_model("cloudwatch").operation_model("GetMetricStatistics").output_shape
    parsed = create_parser("query").parse({"status_code": 200, "headers": dict(response.headers),
                                           "body": response.content}, shape)
    assert [(p["SampleCount"], p["Maximum"]) for p in parsed["Datapoints"]] == [(4.0, pytest.approx(final))]


def test_hyperband_stops_every_trial_by_max_resource_epochs(sm, name) -> None:
    cfg = config("Hyperband", max_jobs=6, parallel=2, RandomSeed=2,
                 StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 3}})
    sm.create_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, HyperParameterTuningJobConfig=cfg,
                                         TrainingJobDefinition=definition({"epochs": "20", "pause": "0.3"}))
    job = wait_tuning(sm, name, timeout=120)
    assert job["HyperParameterTuningJobStatus"] == "Completed", job.get("FailureReason")
    assert job["TrainingJobStatusCounters"]["Stopped"] == 6 and job["ObjectiveStatusCounters"]["Succeeded"] == 6
    for summary in trials(sm, name):
        training = sm.describe_training_job(TrainingJobName=summary["TrainingJobName"])
        epochs = summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] / objective(
            summary["TunedHyperParameters"]) * 20
        assert training["TrainingJobStatus"] == "Stopped"
        assert 1 <= round(epochs) <= 4     # stopped at MaxResource 3 (one more epoch may print meanwhile)
    assert job["BestTrainingJob"]["ObjectiveStatus"] == "Succeeded"
