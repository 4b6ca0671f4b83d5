"""The local framework images: `smlocal images`, and how ECR URIs resolve when jobs run (nearest
version with a log line; unknown AWS images fail with what to build)."""

from __future__ import annotations

import pytest
from test_training import request, wait
from typer.testing import CliRunner

from emulator.cli.main import app

pytestmark = pytest.mark.docker
ECR = "683313688378.dkr.ecr.us-east-1.amazonaws.com"


@pytest.fixture(scope="module")
def sm(jobs_gateway):
    return jobs_gateway.client("sagemaker")


def test_images_list_and_build_report_current_images(base_image):
    runner = CliRunner()
    assert runner.invoke(app, ["images", "build", "sklearn"]).exit_code == 0
    listed = runner.invoke(app, ["images", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.output.splitlines() if "smlocal/sklearn:1.2-1" in line)
    assert "built" in row and "sagemaker-scikit-learn:1.2-1-cpu-py3" in row
    built = runner.invoke(app, ["images", "build", "sklearn"])
    assert built.exit_code == 0 and "all up to date" in built.output
    unknown = runner.invoke(app, ["images", "build", "mxnet"])
    assert unknown.exit_code == 1
    assert "unknown image 'mxnet'; smlocal builds: base, ml-base, sklearn, xgboost, pytorch, tensorflow" in " ".join(
        unknown.output.split())


def test_another_framework_version_runs_on_the_nearest_local_image(sm, jobs_gateway, framework_image, bucket,
                                                                  unique):
    framework_image("sklearn")
    name = unique
    image = f"{ECR}/sagemaker-scikit-learn:1.0-1-cpu-py3"
    spec = {"TrainingImage": image, "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python3", "-c", "import sklearn; print('sklearn', sklearn.__version__)"]}
    sm.create_training_job(**request(name, image, bucket, AlgorithmSpecification=spec))
    assert wait(sm, name)["TrainingJobStatus"] == "Completed"
    logs = jobs_gateway.client("logs")
    stream = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs",
                                       logStreamNamePrefix=f"{name}/")["logStreams"][0]["logStreamName"]
    lines = [e["message"] for e in logs.get_log_events(logGroupName="/aws/sagemaker/TrainingJobs",
                                                       logStreamName=stream, startFromHead=True)["events"]]
    assert lines[0] == ("smlocal has no local image for sagemaker-scikit-learn:1.0-1-cpu-py3 (version 1.0-1); "
                        "using the nearest local version, smlocal/sklearn:1.2-1 (sklearn 1.2-1).")
    assert "sklearn 1.2.1" in lines


def test_an_aws_image_smlocal_does_not_build_fails_with_what_to_do(sm, bucket, unique):
    name = unique
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-training:1.9.0-cpu-py38"
    sm.create_training_job(**request(name, image, bucket))
    job = wait(sm, name)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(f"ClientError: The training image {image} is an AWS mxnet image, "
                                           "which smlocal does not build")
