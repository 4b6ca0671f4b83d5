"""Unmodified SageMaker Python SDK processing code against a gateway that runs jobs.

The only setup is what `eval "$(smlocal env)"` does (tests_support_sdk.sdk_environment).
SKLearnProcessor runs the real framework image (smlocal/sklearn:1.2-1, which the SDK's ECR URI
resolves to); the other processors run images/process (FROM smlocal/ml-base: python3, pandas, pip).
"""

from __future__ import annotations

import json
import textwrap

import botocore.exceptions
import docker
import pytest
from tests_support_sdk import sdk_environment

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
SKLEARN_IMAGE = "smlocal/sklearn:1.2-1"


@pytest.fixture
def sdk(jobs_gateway, s3_server, bucket, monkeypatch, tmp_path):
    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    import sagemaker

    return sagemaker.Session()


def objects(s3, uri: str) -> dict[str, bytes]:
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    prefix = prefix.rstrip("/") + "/"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix):]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_sklearn_processor_runs_pandas_on_csv(sdk, s3, bucket, tmp_path, capsys):
    try:
        docker.from_env().images.get(SKLEARN_IMAGE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{SKLEARN_IMAGE} is not built: run containers/ build scripts first")
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor

    s3.put_object(Bucket=bucket, Key="sklearn-proc/raw/part-1.csv", Body=b"city,temp\nOslo,3\nRome,18\n")
    s3.put_object(Bucket=bucket, Key="sklearn-proc/raw/part-2.csv", Body=b"city,temp\nOslo,5\nCairo,30\n")
    (tmp_path / "cities.csv").write_text("city,country\nOslo,NO\nRome,IT\nCairo,EG\n")
    script = tmp_path / "preprocess.py"
    script.write_text(textwrap.dedent("""\
        import argparse, glob, os
        import pandas as pd
        from sklearn.preprocessing import StandardScaler

        parser = argparse.ArgumentParser()
        parser.add_argument("--min-temp", type=float)
        args = parser.parse_args()
        frames = [pd.read_csv(p) for p in sorted(glob.glob("/opt/ml/processing/input/raw/*.csv"))]
        data = pd.concat(frames).merge(pd.read_csv("/opt/ml/processing/input/lookup/cities.csv"), on="city")
        kept = data[data.temp >= args.min_temp]
        summary = kept.groupby("country", as_index=False).temp.mean().sort_values("country")
        os.makedirs("/opt/ml/processing/summary", exist_ok=True)
        summary.to_csv("/opt/ml/processing/summary/by_country.csv", index=False)
        scaled = StandardScaler().fit_transform(data[["temp"]])
        os.makedirs("/opt/ml/processing/features/scaled", exist_ok=True)
        pd.DataFrame({"temp_scaled": scaled[:, 0].round(3)}).to_csv(
            "/opt/ml/processing/features/scaled/temps.csv", index=False)
        print(f"kept {len(kept)} of {len(data)} rows")
        """))
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large",
                                 instance_count=1, sagemaker_session=sdk, env={"FROM_SDK": "1"})
    processor.run(code=str(script), arguments=["--min-temp", "4"],
                  inputs=[ProcessingInput(source=f"s3://{bucket}/sklearn-proc/raw/",
                                          destination="/opt/ml/processing/input/raw"),
                          ProcessingInput(source=str(tmp_path / "cities.csv"),
                                          destination="/opt/ml/processing/input/lookup")],
                  outputs=[ProcessingOutput(source="/opt/ml/processing/summary", output_name="summary"),
                           ProcessingOutput(source="/opt/ml/processing/features")],
                  wait=True, logs=True)
    printed = capsys.readouterr().out
    assert "kept 3 of 4 rows" in printed
    job = processor.latest_job.describe()
    name = job["ProcessingJobName"]
    assert name.startswith("sagemaker-scikit-learn-") and job["ProcessingJobStatus"] == "Completed"
    assert job["AppSpecification"]["ImageUri"] == \
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    assert job["AppSpecification"]["ContainerEntrypoint"] == ["python3",
                                                              "/opt/ml/processing/input/code/preprocess.py"]
    assert job["AppSpecification"]["ContainerArguments"] == ["--min-temp", "4"]
    assert [i["InputName"] for i in job["ProcessingInputs"]] == ["input-1", "input-2", "code"]
    assert job["Environment"] == {"FROM_SDK": "1"}
    summary, features = (o["S3Output"]["S3Uri"] for o in job["ProcessingOutputConfig"]["Outputs"])
    assert summary == f"s3://{bucket}/{name}/output/summary"
    assert objects(s3, summary) == {"by_country.csv": b"country,temp\nEG,30.0\nIT,18.0\nNO,5.0\n"}
    assert list(objects(s3, features)) == ["scaled/temps.csv"]


def test_script_processor_passes_arguments_and_code(sdk, s3, bucket, process_image, tmp_path):
    from sagemaker.processing import ProcessingOutput, ScriptProcessor

    script = tmp_path / "report.py"
    script.write_text(textwrap.dedent("""\
        import json, os, sys
        os.makedirs("/opt/ml/processing/report", exist_ok=True)
        json.dump({"argv": sys.argv, "code": sorted(os.listdir("/opt/ml/processing/input/code"))},
                  open("/opt/ml/processing/report/seen.json", "w"))
        open("/opt/ml/output/message", "w").write("reported")
        """))
    processor = ScriptProcessor(image_uri=process_image, command=["python3"], role=ROLE,
                                instance_type="ml.m5.large", instance_count=1, sagemaker_session=sdk,
                                base_job_name="script-proc", max_runtime_in_seconds=600)
    processor.run(code=str(script), arguments=["--alpha", "0.5", "positional"],
                  outputs=[ProcessingOutput(source="/opt/ml/processing/report", output_name="report")],
                  wait=True, logs=False)
    job = processor.latest_job.describe()
    assert job["ProcessingJobStatus"] == "Completed" and job["ExitMessage"] == "reported"
    assert job["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    seen = json.loads(objects(s3, job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"])["seen.json"])
    assert seen == {"argv": ["/opt/ml/processing/input/code/report.py", "--alpha", "0.5", "positional"],
                    "code": ["report.py"]}


def test_framework_processor_with_source_dir_and_requirements(sdk, s3, bucket, process_image, tmp_path,
                                                              jobs_gateway):
    from sagemaker.processing import FrameworkProcessor, ProcessingOutput
    from sagemaker.sklearn.estimator import SKLearn

    source = tmp_path / "src"
    (source / "helpers").mkdir(parents=True)
    (source / "helpers" / "__init__.py").write_text("def greet(name):\n    return f'hello {name}'\n")
    (source / "requirements.txt").write_text("pandas\n")
    (source / "main.py").write_text(textwrap.dedent("""\
        import os, sys
        import pandas
        from helpers import greet
        os.makedirs("/opt/ml/processing/out", exist_ok=True)
        open("/opt/ml/processing/out/greeting.txt", "w").write(greet(sys.argv[1]) + " " + sys.argv[2])
        """))
    processor = FrameworkProcessor(estimator_cls=SKLearn, framework_version="1.2-1", image_uri=process_image,
                                   role=ROLE, instance_type="ml.m5.large", instance_count=1,
                                   sagemaker_session=sdk, base_job_name="framework-proc")
    processor.run(code="main.py", source_dir=str(source),  # uploaded by the SDK with SSE-KMS
                  arguments=["world", "--flag"],
                  outputs=[ProcessingOutput(source="/opt/ml/processing/out", output_name="out")],
                  wait=True, logs=False)
    job = processor.latest_job.describe()
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh"]
    assert {i["InputName"] for i in job["ProcessingInputs"]} == {"code", "entrypoint"}
    out = objects(s3, job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"])
    assert out == {"greeting.txt": b"hello world --flag"}
    logs = jobs_gateway.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/ProcessingJobs",
                                        logStreamNamePrefix=job["ProcessingJobName"] + "/")["logStreams"]
    lines = [e["message"] for e in logs.get_log_events(logGroupName="/aws/sagemaker/ProcessingJobs",
                                                       logStreamName=streams[0]["logStreamName"],
                                                       startFromHead=True)["events"]]
    assert any(line.startswith("Requirement already satisfied: pandas") for line in lines), lines


def test_custom_image_with_its_own_entrypoint_and_failure(sdk, bucket, process_image):
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.processing import Processor

    processor = Processor(image_uri=process_image, role=ROLE, instance_type="ml.m5.large", instance_count=1,
                          sagemaker_session=sdk, base_job_name="custom-proc")
    with pytest.raises(UnexpectedStatusException) as info:
        processor.run(arguments=["--mode", "fail", "--message", "column price missing"], wait=True, logs=False)
    assert "AlgorithmError: See job logs for more information" in str(info.value)
    job = processor.latest_job.describe()
    assert job["ExitMessage"] == "column price missing"
    assert "ContainerEntrypoint" not in job["AppSpecification"]


def test_pyspark_processor_is_refused_clearly(sdk, tmp_path):
    from sagemaker.spark.processing import PySparkProcessor

    script = tmp_path / "job.py"
    script.write_text("print('spark')\n")
    processor = PySparkProcessor(framework_version="3.3", role=ROLE, instance_type="ml.m5.large",
                                 instance_count=1, sagemaker_session=sdk)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        processor.run(submit_app=str(script), wait=False, logs=False)
    assert info.value.response["Error"]["Code"] == "ValidationException"
    assert info.value.response["Error"]["Message"].startswith(
        "SageMaker Spark processing images (PySparkProcessor, SparkJarProcessor) are not supported by smlocal")
