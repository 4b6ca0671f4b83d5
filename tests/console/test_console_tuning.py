"""Tuning jobs in the console: a real tuning job whose trials run in Docker (the tune test image scores
each trial from its hyperparameters); the browser shows the list, the counters and best trial updating
live, the trials table (each trial linking to its training job, the best highlighted) and a chart whose
points are exactly the trials' final objectives; Stop from the page stops the tuning job and its trials."""

from __future__ import annotations

import os
import re
import time

import pytest
from console.waiting import until
from integration.hosting_support import ROLE

pytestmark = pytest.mark.docker

METRICS = [{"Name": "validation:score", "Regex": r"score=([-0-9.eE+]+)"},
           {"Name": "train:loss", "Regex": r"loss=([-0-9.eE+]+)"}]


def tuning_name(prefix: str) -> str:
    return f"{prefix}-{int(time.time() * 1000) % 10**8}-{os.getpid() % 1000}"   # at most 32 characters


def create_tuning_job(sm, name: str, image: str, bucket: str, max_jobs: int, parallel: int, **static: str) -> None:
    sm.create_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name,
        HyperParameterTuningJobConfig={
            "Strategy": "Random", "RandomSeed": 11,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": max_jobs, "MaxParallelTrainingJobs": parallel},
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:score"},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}],
                "IntegerParameterRanges": [{"Name": "layers", "MinValue": "1", "MaxValue": "8"}],
                "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b", "c"]}]}},
        TrainingJobDefinition={
            "StaticHyperParameters": static,
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File",
                                       "MetricDefinitions": METRICS},
            "RoleArn": ROLE, "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/tuning"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}},
        Tags=[{"Key": "course", "Value": "workshop"}])


def wait_tuning(sm, name: str, statuses: tuple[str, ...], timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        if job["HyperParameterTuningJobStatus"] in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"{name} is still {job['HyperParameterTuningJobStatus']}")


def all_trials(sm, name: str) -> list[dict]:
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job")
    return [t for page in pages.paginate(HyperParameterTuningJobName=name) for t in page["TrainingJobSummaries"]]


def test_tuning_job_page_shows_trials_chart_and_best_live(console_gateway, tab, console_bucket, tune_image):
    sm = console_gateway.client("sagemaker")
    name = tuning_name("console-tune")
    create_tuning_job(sm, name, tune_image, console_bucket, max_jobs=4, parallel=2, epochs="3", pause="1")
    console = tab(console_gateway.url + "/_smlocal")

    # the list shows it while it runs, and the sidebar leads there
    console.goto("/")
    console.page.locator("nav a", has_text="Tuning jobs").click()
    row = console.page.locator(f'tr[data-name="{name}"]')
    row.wait_for()
    assert "Random" in row.inner_text() and "Maximize validation:score" in row.inner_text()

    # the page: trials appear and the counters move without a reload
    row.locator("a").click()
    page = console.page
    assert page.locator("h1[data-job-name]").inner_text() == name
    page.locator("[data-trials] tr[data-trial]").first.wait_for(timeout=120_000)
    assert sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "HyperParameterTuningJobStatus"] == "InProgress"
    console.shot("tuning-running")
    assert until(lambda: page.locator('[data-counter="Completed"]').inner_text() != "0", timeout=180)
    page.locator("#summary .badge", has_text="Completed").wait_for(timeout=240_000)
    job = wait_tuning(sm, name, ("Completed",))

    # the trials table is what the API lists; the best trial is highlighted and is BestTrainingJob
    trials = all_trials(sm, name)
    best = job["BestTrainingJob"]["TrainingJobName"]
    assert len(trials) == 4
    until(lambda: page.locator("[data-trials] tr[data-trial]").count() == 4, timeout=15)
    shown = page.locator("[data-trials] tr[data-trial]").evaluate_all(
        "rs => rs.map(r => [r.dataset.trial, r.querySelector('[data-objective]').textContent.trim()])")
    expected = {t["TrainingJobName"]: t["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for t in trials}
    assert {trial: float(value) for trial, value in shown} == pytest.approx(expected)
    assert page.locator("[data-trials] tr[data-best]").get_attribute("data-trial") == best
    assert best == max(expected, key=expected.get)
    assert best in page.locator("[data-best-trial]").inner_text()

    # the chart: one point per trial at its final objective, the best one marked
    chart = page.locator("[data-objective-chart] svg.chart")
    until(lambda: chart.get_attribute("data-count") == "4", timeout=15)
    points = chart.locator("circle").evaluate_all("cs => cs.map(c => [c.dataset.trial, Number(c.dataset.value)])")
    assert dict(points) == pytest.approx(expected)
    assert chart.locator("circle[data-best]").get_attribute("data-trial") == best

    # each trial links to its training job page, whose ARN names the tuning job's trial
    page.locator(f'[data-trials] tr[data-trial="{best}"] a').first.click()
    assert page.locator("h1[data-job-name]").inner_text() == best
    assert "workshop" in page.locator("#tags-h + *").inner_text()
    console.goto(f"/tuning-jobs/{name}")
    console.shot("tuning-completed", docs="tuning-job.png")
    assert "Maximize validation:score" in page.locator("#facts-h + dl").inner_text()
    assert "layers" in page.locator("[data-ranges]").inner_text()


def test_stop_from_the_tuning_page_stops_its_trials(console_gateway, tab, console_bucket, tune_image):
    sm = console_gateway.client("sagemaker")
    name = tuning_name("console-stop")
    create_tuning_job(sm, name, tune_image, console_bucket, max_jobs=6, parallel=2, epochs="100", pause="1")
    console = tab(console_gateway.url + "/_smlocal")
    console.goto(f"/tuning-jobs/{name}")
    page = console.page
    page.locator("[data-trials] tr[data-trial]").first.wait_for(timeout=120_000)
    page.locator("summary", has_text="Stop").click()
    page.locator('button[data-confirm="stop"]').click()
    page.locator('#action-result [data-outcome="ok"]').wait_for()
    page.locator("#summary .badge", has_text=re.compile("^Stopp(ing|ed)$")).wait_for()
    job = wait_tuning(sm, name, ("Stopped",), timeout=120)
    assert job["HyperParameterTuningJobStatus"] == "Stopped"
    page.locator("#summary .badge", has_text="Stopped").wait_for(timeout=30_000)
    statuses = {t["TrainingJobStatus"] for t in all_trials(sm, name)}
    assert statuses <= {"Stopped", "Completed"} and "Stopped" in statuses
    assert page.locator("summary", has_text="Stop").count() == 0
    console.shot("tuning-stopped")


def test_unknown_tuning_job_is_a_not_found_page(console_gateway, tab):
    console = tab(console_gateway.url + "/_smlocal")
    response = console.goto("/tuning-jobs/no-such-tuning-job")
    assert response.status == 404
    assert "No tuning job named no-such-tuning-job." in console.page.inner_text("main")
