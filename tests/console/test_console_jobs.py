"""Jobs in the console: real training, processing and transform jobs run in Docker, and the browser
shows them: lists, live status, the timeline, hyperparameters, channels, downloadable artifacts,
logs that grow while the job runs, a chart per metric whose points are the stored datapoints; Stop,
and Stop refused without the token, from another origin or for another Host."""

from __future__ import annotations

import io
import random
import re
import tarfile
import time

import httpx
import pytest
from console.waiting import until
from integration.hosting_support import ROLE

pytestmark = pytest.mark.docker

METRICS = [{"Name": "train:loss", "Regex": r"train-loss=([0-9.]+)"},
           {"Name": "validation:accuracy", "Regex": r"val-acc=([0-9.]+)"},
           {"Name": "progress:tick", "Regex": r"^tick (\d+)$"}]
XGB = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def training_job(sm, name: str, image: str, bucket: str, **hyperparameters: str) -> str:
    return sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE, HyperParameters=hyperparameters,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File", "MetricDefinitions": METRICS},
        InputDataConfig=[{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{name}/train/",
            "S3DataDistributionType": "FullyReplicated"}}, "ContentType": "text/csv"}],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600}, Tags=[{"Key": "course", "Value": "workshop"}],
    )["TrainingJobArn"]


def wait_status(sm, name: str, statuses: tuple[str, ...], timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError(f"{name} is still {job['TrainingJobStatus']}")


def log_lines(tab) -> list[str]:
    return tab.page.locator("[data-log] .line .msg").all_inner_texts()


def test_training_job_page_follows_the_job_live(console_gateway, tab, s3, console_bucket, train_image, unique):
    sm = console_gateway.client("sagemaker")
    s3.put_object(Bucket=console_bucket, Key=f"{unique}/train/data.csv", Body=b"1,2\n3,4\n")
    arn = training_job(sm, unique, train_image, console_bucket, mode="sleep", seconds="8", epochs="6",
                       learning_rate="0.05")
    console = tab(console_gateway.url + "/_smlocal")
    console.goto(f"/training-jobs/{unique}")
    page = console.page
    assert page.locator("h1[data-job-name]").inner_text() == unique

    # logs grow while the job runs, without a reload
    until(lambda: any(line.startswith("tick") for line in log_lines(console)), timeout=120)
    first = len(log_lines(console))
    assert sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] == "InProgress"
    grown = until(lambda: len(log_lines(console)) > first + 3, timeout=30)
    still_running = sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] == "InProgress"
    assert grown and still_running, "the log did not grow while the job was running"
    assert page.locator("[data-log-tail]").count() == 1

    # so does the chart of a metric the job emits as it goes
    ticks = page.locator('svg.chart[data-metric="progress:tick"]')
    ticks.wait_for()
    seen = int(ticks.get_attribute("data-count"))
    more = until(lambda: int(ticks.get_attribute("data-count")) > seen, timeout=30)
    assert more and sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] == "InProgress"
    console.shot("training-running")

    # the status changes on the page when the job ends (live region, no reload)
    page.locator("#summary .badge", has_text="Completed").wait_for(timeout=120_000)
    page.locator("[data-log-end]").wait_for(timeout=30_000)
    job = sm.describe_training_job(TrainingJobName=unique)
    assert job["TrainingJobStatus"] == "Completed"
    lines = log_lines(console)
    assert lines[-1] == "done on algo-1" and "epoch 0:\ttrain-loss=1.0000\tval-acc=0.00" in lines
    assert lines.count("tick 0") == 1, "a line was appended twice"

    # a chart per metric, and its points are exactly the stored datapoints
    stored = console_gateway.emulator.jobs.services.metrics.series(arn)
    assert set(stored) == {"train:loss", "validation:accuracy", "progress:tick"} and len(stored["train:loss"]) == 6
    for metric, points in stored.items():
        chart = page.locator(f'svg.chart[data-metric="{metric}"]')
        chart.wait_for()
        # the charts refresh when the page learns the job ended
        assert until(lambda c=chart, n=len(points): c.get_attribute("data-count") == str(n), timeout=15)
        markers = chart.locator("circle").evaluate_all(
            "cs => cs.map(c => [Number(c.dataset.ts), Number(c.dataset.value)])")
        assert [tuple(m) for m in markers] == [(ts, value) for ts, value in points]
        assert chart.get_attribute("data-count") == str(len(points))
    final = page.locator("[data-final-metrics]").inner_text()
    assert "train:loss" in final and "0.1667" in final

    # timeline, hyperparameters, channels, resources
    timeline = page.locator("[data-timeline] li").evaluate_all("ls => ls.map(l => l.dataset.status)")
    assert timeline == [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert timeline[-1] == "Completed" and "Training" in timeline
    hyper = page.locator("[data-hyperparameters]").inner_text()
    assert "learning_rate" in hyper and "0.05" in hyper
    assert f"s3://{console_bucket}/{unique}/train/" in page.locator("[data-channels]").inner_text()
    assert "ml.m5.large" in page.locator("#res-h + dl").inner_text()
    assert "workshop" in page.locator("#tags-h + *").inner_text()

    # the model artifact downloads, byte for byte
    link = page.locator(f'[data-download$="{unique}/output/model.tar.gz"]')
    with page.expect_download() as info:
        link.click()
    downloaded = info.value.path().read_bytes()
    stored_model = s3.get_object(Bucket=console_bucket, Key=f"output/{unique}/output/model.tar.gz")["Body"].read()
    assert downloaded == stored_model
    with tarfile.open(fileobj=io.BytesIO(downloaded)) as tar:
        assert "model.txt" in tar.getnames()
    console.shot("training-completed")


def test_builtin_xgboost_metrics_are_charted_point_for_point(console_gateway, tab, s3, console_bucket,
                                                            framework_image, unique):
    framework_image("xgboost")
    rng = random.Random(7)
    rows = []
    for _ in range(400):
        x = [rng.random() for _ in range(3)]
        rows.append(",".join(f"{v:.4f}" for v in [3 * x[0] + x[1] * x[2] + rng.gauss(0, 0.1), *x]))
    s3.put_object(Bucket=console_bucket, Key=f"{unique}/train/train.csv", Body="\n".join(rows[:300]).encode())
    s3.put_object(Bucket=console_bucket, Key=f"{unique}/validation/validation.csv", Body="\n".join(rows[300:]).encode())
    sm = console_gateway.client("sagemaker")
    sm.create_training_job(
        TrainingJobName=unique, RoleArn=ROLE,
        HyperParameters={"objective": "reg:squarederror", "num_round": "60", "max_depth": "3", "eta": "0.15"},
        AlgorithmSpecification={"TrainingImage": XGB, "TrainingInputMode": "File"},
        InputDataConfig=[{"ChannelName": channel, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": f"s3://{console_bucket}/{unique}/{channel}/"}}}
            for channel in ("train", "validation")],
        OutputDataConfig={"S3OutputPath": f"s3://{console_bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600})
    job = wait_status(sm, unique, ("Completed", "Failed", "Stopped"), timeout=300)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    stored = console_gateway.emulator.jobs.services.metrics.series(job["TrainingJobArn"])
    assert {"train:rmse", "validation:rmse"} <= set(stored) and len(stored["validation:rmse"]) == 60
    console = tab(console_gateway.url + "/_smlocal")
    console.goto(f"/training-jobs/{unique}")
    page = console.page
    for metric, points in stored.items():
        markers = page.locator(f'svg.chart[data-metric="{metric}"] circle').evaluate_all(
            "cs => cs.map(c => [Number(c.dataset.ts), Number(c.dataset.value)])")
        assert [tuple(m) for m in markers] == [(ts, value) for ts, value in points], metric
    console.shot("xgboost-metrics", docs="training-job.png", docs_until="[data-final-metrics]")


def test_stop_is_refused_without_the_token_or_from_elsewhere_and_works_from_the_page(
        console_gateway, tab, s3, console_bucket, train_image, unique):
    sm = console_gateway.client("sagemaker")
    s3.put_object(Bucket=console_bucket, Key=f"{unique}/train/data.csv", Body=b"1\n")
    training_job(sm, unique, train_image, console_bucket, mode="sleep", seconds="300")
    console = tab(console_gateway.url + "/_smlocal")
    console.goto(f"/training-jobs/{unique}")
    page = console.page
    until(lambda: any(line.startswith("tick") for line in log_lines(console)), timeout=120)
    token = page.locator('meta[name="smlocal-token"]').get_attribute("content")
    url = f"{console_gateway.url}/_smlocal/training-jobs/{unique}/stop"
    port = console_gateway.port

    refused = [
        httpx.post(url, data={}),                                                    # no token
        httpx.post(url, data={"token": "not-the-token"}),                            # a wrong one
        httpx.post(url, data={"token": token}, headers={"Origin": "http://evil.example"}),   # another site
        httpx.post(url, data={"token": token}, headers={"Sec-Fetch-Site": "cross-site"}),
        httpx.post(url, data={"token": token}, headers={"Host": f"evil.example:{port}"}),     # DNS rebinding
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert "token" in refused[0].text and "another site" in refused[2].text and "evil.example" in refused[4].text
    assert sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] == "InProgress"

    # in the browser too: the page's Stop, sent without its token, is refused and the job keeps running
    def without_token(route):
        headers = {k: v for k, v in route.request.headers.items() if k.lower() != "x-smlocal-token"}
        body = "&".join(p for p in (route.request.post_data or "").split("&") if not p.startswith("token="))
        route.continue_(headers=headers, post_data=body)

    page.route("**/stop", without_token)
    page.locator("summary", has_text="Stop").click()
    page.locator('button[data-confirm="stop"]').click()
    page.locator("#action-result [data-refused]").wait_for()
    assert "token" in page.locator("#action-result").inner_text()
    page.unroute("**/stop")
    console.shot("stop-refused")
    assert sm.describe_training_job(TrainingJobName=unique)["TrainingJobStatus"] == "InProgress"

    # with the page as served: Stop works, and the page shows Stopping, then Stopped
    console.goto(f"/training-jobs/{unique}")
    page.locator("summary", has_text="Stop").click()
    page.locator('button[data-confirm="stop"]').click()
    page.locator('#action-result [data-outcome="ok"]').wait_for()
    page.locator("#summary .badge", has_text=re.compile("^Stopp(ing|ed)$")).wait_for()
    console.shot("stop-requested")
    assert wait_status(sm, unique, ("Stopped",), timeout=60)["TrainingJobStatus"] == "Stopped"
    page.locator("#summary .badge", has_text="Stopped").wait_for(timeout=30_000)
    assert "Stopped" in page.locator("[data-timeline]").inner_text()

    # Stop again: SageMaker's own refusal, shown on the page
    response = httpx.post(url, data={"token": token})
    assert response.status_code == 409
    assert "The request was rejected because the training job is in status Stopped." in response.text


def test_failed_job_shows_its_reason_in_the_list_the_page_and_the_overview(
        console_gateway, tab, s3, console_bucket, train_image, unique):
    sm = console_gateway.client("sagemaker")
    s3.put_object(Bucket=console_bucket, Key=f"{unique}/train/data.csv", Body=b"1\n")
    training_job(sm, unique, train_image, console_bucket, mode="fail-file", message="loss diverged at epoch 3")
    job = wait_status(sm, unique, ("Failed",))
    assert job["FailureReason"] == "AlgorithmError: loss diverged at epoch 3"
    console = tab(console_gateway.url + "/_smlocal")

    console.goto(f"/training-jobs?q={unique}")
    row = console.page.locator(f'tr[data-name="{unique}"]')
    assert "Failed" in row.inner_text() and "loss diverged at epoch 3" in row.inner_text()
    console.goto(f"/training-jobs?status=Completed&q={unique}")
    assert console.page.locator("[data-empty]").is_visible()

    console.goto(f"/training-jobs/{unique}")
    assert console.text("[data-failure]") == "FailureReason\nAlgorithmError: loss diverged at epoch 3"
    console.goto("/")
    failures = console.page.locator("[data-failures]").inner_text()
    assert unique in failures and "loss diverged at epoch 3" in failures
    console.shot("overview-with-failure")


def test_lists_sort_and_filter(console_gateway, tab):
    sm = console_gateway.client("sagemaker")
    console = tab(console_gateway.url + "/_smlocal")
    console.goto("/training-jobs?sort=name&order=asc")
    names = console.page.locator("table[data-jobs] tbody tr").evaluate_all("rs => rs.map(r => r.dataset.name)")
    assert names == sorted(names, key=str.lower) and names
    expected = [j["TrainingJobName"] for j in sm.list_training_jobs(SortBy="Name", SortOrder="Ascending",
                                                                    MaxResults=50)["TrainingJobSummaries"]]
    assert names == expected
    console.page.locator('th a', has_text="Name").click()        # the same column again: descending
    console.page.wait_for_url(re.compile(r"order=desc"))
    again = console.page.locator("table[data-jobs] tbody tr").evaluate_all("rs => rs.map(r => r.dataset.name)")
    assert again == list(reversed(names))
    console.shot("training-list")


def test_processing_and_transform_jobs_are_shown(console_gateway, tab, s3, console_bucket, process_image,
                                                 serve_image, unique):
    sm = console_gateway.client("sagemaker")
    s3.put_object(Bucket=console_bucket, Key=f"{unique}/in/a.csv", Body=b"1,2\n3,4\n")
    sm.create_processing_job(
        ProcessingJobName=unique, RoleArn=ROLE, AppSpecification={"ImageUri": process_image},
        ProcessingInputs=[{"InputName": "data", "S3Input": {
            "S3Uri": f"s3://{console_bucket}/{unique}/in/", "LocalPath": "/opt/ml/processing/input/data",
            "S3DataType": "S3Prefix", "S3InputMode": "File"}}],
        ProcessingOutputConfig={"Outputs": [{"OutputName": "evidence", "S3Output": {
            "S3Uri": f"s3://{console_bucket}/{unique}/evidence", "LocalPath": "/opt/ml/processing/evidence",
            "S3UploadMode": "EndOfJob"}}]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 5}})
    sm.create_model(ModelName=unique, PrimaryContainer={"Image": serve_image, "Environment": {"LINES": "1"}},
                    ExecutionRoleArn=ROLE)
    sm.create_transform_job(
        TransformJobName=unique, ModelName=unique,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{console_bucket}/{unique}/in/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{console_bucket}/{unique}/scored", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    console = tab(console_gateway.url + "/_smlocal")

    console.goto(f"/processing-jobs/{unique}")
    console.page.locator("#summary .badge", has_text="Completed").wait_for(timeout=120_000)
    console.page.locator("[data-log-end]").wait_for()
    assert any("process starting on algo-1" in line for line in log_lines(console))
    assert "all good on algo-1" in console.page.locator("#summary").inner_text()      # ExitMessage
    console.page.locator(f'[data-download="{unique}/evidence/algo-1.json"]').wait_for()
    console.shot("processing-job")

    console.goto(f"/transform-jobs/{unique}")
    console.page.locator("#summary .badge", has_text="Completed").wait_for(timeout=120_000)
    console.page.locator(f'[data-download="{unique}/scored/a.csv.out"]').wait_for()
    scored = s3.get_object(Bucket=console_bucket, Key=f"{unique}/scored/a.csv.out")["Body"].read()
    assert scored == b"3.0\n7.0\n"
    console.page.locator("[data-log-end]").wait_for()
    assert any("batch of 2 records" in line for line in log_lines(console))
    console.shot("transform-job")

    for section in ("processing-jobs", "transform-jobs"):
        console.goto(f"/{section}?q={unique}")
        assert "Completed" in console.page.locator(f'tr[data-name="{unique}"]').inner_text()
        console.shot(section)
