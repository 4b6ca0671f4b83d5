"""Processing jobs: CreateProcessingJob, StopProcessingJob (Describe and List are shared).

Create validates what smlocal can run, writes the record (InProgress) with the defaults
DescribeProcessingJob shows, and hands the job to the scheduler; a worker runs it
(``emulator.jobs.processing_runner``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from emulator.errors import ResourceLimitExceeded, ValidationException
from emulator.jobs.container_job import IN_PROGRESS, STOPPING, TERMINAL
from emulator.jobs.processing_contract import local_relative
from emulator.sagemaker.families import PROCESSING_JOB
from emulator.sagemaker.records import Context, Records

MAX_INSTANCES = 16
DEFAULT_MAX_RUNTIME = 86400
_SPARK = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/sagemaker-spark-processing[:@]")


def _check_local_path(where: str, local_path: Any) -> None:
    if local_relative(local_path) is None:
        raise ValidationException(f"{where}.LocalPath must be a directory under /opt/ml/processing/ "
                                  f"(for example /opt/ml/processing/input), not {local_path!r}.")


def _check_inputs(inputs: list[dict[str, Any]]) -> None:
    names = set()
    for item in inputs:
        name = item["InputName"]
        if name in names:
            raise ValidationException(f"Input names must be unique: {name} appears more than once.")
        names.add(name)
        if "DatasetDefinition" in item:
            raise ValidationException(
                f"ProcessingInput {name} uses a DatasetDefinition (Athena or Redshift), which smlocal does not "
                "support; run the query yourself and pass its result as an S3Input.")
        source = item.get("S3Input")
        if source is None:
            raise ValidationException(f"ProcessingInput {name} needs an S3Input.")
        if item.get("AppManaged"):
            continue
        if source.get("S3InputMode", "File") == "Pipe":
            raise ValidationException(
                f"ProcessingInput {name} uses S3InputMode Pipe, which smlocal does not support; use File.")
        if source.get("S3CompressionType", "None") != "None":
            raise ValidationException(
                f"ProcessingInput {name}: S3CompressionType {source['S3CompressionType']} is only valid with "
                "S3InputMode Pipe, which smlocal does not support; use None.")
        if not source["S3Uri"].startswith("s3://"):
            raise ValidationException(f"ProcessingInput {name}: smlocal reads s3:// URIs only, not "
                                      f"{source['S3Uri']}.")
        _check_local_path(f"ProcessingInput {name} S3Input", source.get("LocalPath"))


def _check_outputs(outputs: list[dict[str, Any]]) -> None:
    names = set()
    for item in outputs:
        name = item["OutputName"]
        if name in names:
            raise ValidationException(f"Output names must be unique: {name} appears more than once.")
        names.add(name)
        if "FeatureStoreOutput" in item:
            raise ValidationException(
                f"ProcessingOutput {name} writes to Feature Store (FeatureStoreOutput), which smlocal does not "
                "support; use an S3Output.")
        target = item.get("S3Output")
        if target is None:
            raise ValidationException(f"ProcessingOutput {name} needs an S3Output.")
        if item.get("AppManaged"):
            continue
        if not target["S3Uri"].startswith("s3://"):
            raise ValidationException(f"ProcessingOutput {name}: S3Uri must be an s3:// URI, not {target['S3Uri']}.")
        _check_local_path(f"ProcessingOutput {name} S3Output", target.get("LocalPath"))


def _check_supported(params: dict[str, Any]) -> None:
    image = params["AppSpecification"]["ImageUri"]
    if _SPARK.match(image):
        raise ValidationException(
            "SageMaker Spark processing images (PySparkProcessor, SparkJarProcessor) are not supported by "
            f"smlocal: {image}. Run Spark inside your own image with ScriptProcessor or a custom image instead.")
    _check_inputs(params.get("ProcessingInputs") or [])
    _check_outputs((params.get("ProcessingOutputConfig") or {}).get("Outputs") or [])
    count = params["ProcessingResources"]["ClusterConfig"]["InstanceCount"]
    if count > MAX_INSTANCES:
        raise ResourceLimitExceeded(
            f"smlocal runs at most {MAX_INSTANCES} instances per processing job (each is a container on this "
            f"machine); the request asks for {count}.")


def _with_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """The record as DescribeProcessingJob shows it: the request plus SageMaker's defaults."""
    record = {k: v for k, v in params.items() if k != "Tags"}
    inputs = []
    for item in params.get("ProcessingInputs") or []:
        item = {"AppManaged": False, **item}
        if "S3Input" in item:
            item["S3Input"] = {"S3InputMode": "File", "S3DataDistributionType": "FullyReplicated",
                               "S3CompressionType": "None", **item["S3Input"]}
        inputs.append(item)
    if "ProcessingInputs" in params:
        record["ProcessingInputs"] = inputs
    output_config = params.get("ProcessingOutputConfig")
    if output_config:
        record["ProcessingOutputConfig"] = {**output_config, "Outputs": [
            {"AppManaged": False, **item} for item in output_config.get("Outputs") or []]}
    record["StoppingCondition"] = {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME,
                                   **(params.get("StoppingCondition") or {})}
    record["ProcessingJobStatus"] = IN_PROGRESS
    return record


class ProcessingOps:
    def __init__(self, ctx: Context, launch: Callable[[str], None], request_stop: Callable[[str], None]) -> None:
        self.jobs = Records(ctx, PROCESSING_JOB)
        self.launch = launch
        self.request_stop = request_stop

    def create_processing_job(self, params: dict[str, Any]) -> dict[str, Any]:
        _check_supported(params)
        created = self.jobs.create(params["ProcessingJobName"], _with_defaults(params), params.get("Tags"))
        self.launch(created["ProcessingJobName"])
        return {"ProcessingJobArn": created["ProcessingJobArn"]}

    def stop_processing_job(self, params: dict[str, Any]) -> dict[str, Any]:
        def change(record: dict[str, Any]) -> None:
            current = record["ProcessingJobStatus"]
            if current in TERMINAL:
                raise ValidationException(
                    f"The request was rejected because the processing job is in status {current}.")
            if current == IN_PROGRESS:
                record["ProcessingJobStatus"] = STOPPING

        record = self.jobs.update(params["ProcessingJobName"], change)
        self.request_stop(record["ProcessingJobName"])
        return {}
