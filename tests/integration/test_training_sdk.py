"""Unmodified SageMaker Python SDK code (generic Estimator) against a gateway that runs jobs.

The only setup is what `eval "$(smlocal env)"` does: endpoint URLs, keys, region, SDK config.
"""

from __future__ import annotations

import io
import tarfile
import time

import pytest
from tests_support_sdk import sdk_environment

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def sdk(jobs_gateway, s3_server, bucket, monkeypatch, tmp_path):
    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    import sagemaker

    return sagemaker.Session()


def test_estimator_fit_prints_logs_and_attach_reads_the_job(sdk, s3, bucket, train_image, capsys):
    from sagemaker.estimator import Estimator

    s3.put_object(Bucket=bucket, Key="sdk/train/data.csv", Body=b"1,2\n")
    estimator = Estimator(image_uri=train_image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/sdk-output", hyperparameters={"epochs": 3, "lr": 0.5},
                          metric_definitions=[{"Name": "loss", "Regex": "train-loss=([0-9.]+)"}],
                          environment={"FROM_SDK": "1"}, tags=[{"Key": "via", "Value": "sdk"}],
                          max_run=600, sagemaker_session=sdk)
    started = time.monotonic()
    estimator.fit({"train": f"s3://{bucket}/sdk/train/"}, wait=True, logs="All")
    elapsed = time.monotonic() - started
    printed = capsys.readouterr().out
    job_name = estimator.latest_training_job.name
    assert job_name.startswith("train-")
    assert "epoch 2:\ttrain-loss=0.3333" in printed and "done on algo-1" in printed
    assert "Completed - Training job completed" in printed
    assert estimator.model_data == f"s3://{bucket}/sdk-output/{job_name}/output/model.tar.gz"
    body = s3.get_object(Bucket=bucket, Key=f"sdk-output/{job_name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        assert "model.txt" in tar.getnames()
    described = sdk.describe_training_job(job_name)
    assert described["HyperParameters"] == {"epochs": "3", "lr": "0.5"}
    assert described["Environment"] == {"FROM_SDK": "1"}
    assert {m["MetricName"] for m in described["FinalMetricDataList"]} == {"loss"}

    from sagemaker.estimator import Estimator as Attached

    attached = Attached.attach(job_name, sagemaker_session=sdk)
    assert attached.model_data == estimator.model_data
    assert attached.hyperparameters() == {"epochs": "3", "lr": "0.5"}
    assert attached.instance_type == "ml.m5.large" and attached.max_run == 600
    attached.logs()
    assert "done on algo-1" in capsys.readouterr().out
    print(f"fit() took {elapsed:.1f} s")


def test_fit_without_wait_then_wait(sdk, bucket, train_image):
    from sagemaker.estimator import Estimator

    estimator = Estimator(image_uri=train_image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/nowait", hyperparameters={"mode": "fail-file",
                                                                                 "message": "sdk sees this"},
                          sagemaker_session=sdk)
    estimator.fit(wait=False)
    from sagemaker.exceptions import UnexpectedStatusException

    with pytest.raises(UnexpectedStatusException, match="sdk sees this"):
        estimator.latest_training_job.wait(logs="None")


def test_fit_returns_when_a_short_job_ends_not_at_the_sdks_next_30_s_poll(sdk, jobs_gateway, bucket, train_image):
    """The SDK's first Describe after Create is held until the job ends (emulator/sagemaker/sdk_wait.py);
    without that a 12 s job would return from fit() at the SDK's next look, 35 s in."""
    from sagemaker.estimator import Estimator

    estimator = Estimator(image_uri=train_image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/held", hyperparameters={"mode": "sleep", "seconds": 12},
                          sagemaker_session=sdk)
    started = time.monotonic()
    estimator.fit(logs="All")
    elapsed = time.monotonic() - started
    job = sdk.describe_training_job(estimator.latest_training_job.name)
    ran = (job["TrainingEndTime"] - job["TrainingStartTime"]).total_seconds()
    assert job["TrainingJobStatus"] == "Completed" and ran >= 12
    assert elapsed < 30, f"fit() took {elapsed:.1f} s for a {ran:.1f} s job"
    # boto3 (not the SDK) is answered at once, as SageMaker does, even right after Create
    sm = jobs_gateway.client("sagemaker")
    name = f"not-held-{int(time.time())}"
    sm.create_training_job(TrainingJobName=name, RoleArn=ROLE, AlgorithmSpecification={
        "TrainingImage": train_image, "TrainingInputMode": "File"}, HyperParameters={"mode": "sleep", "seconds": "5"},
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/held"}, StoppingCondition={"MaxRuntimeInSeconds": 60},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})
    asked = time.monotonic()
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"
    assert time.monotonic() - asked < 1
    # let it end, so the module's gateway does not stop with the job's container still being created
    deadline = time.monotonic() + 120
    while sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress":
        assert time.monotonic() < deadline, f"{name} did not end"
        time.sleep(0.5)
