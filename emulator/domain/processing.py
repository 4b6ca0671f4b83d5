"""Processing jobs in the domain: what CreateProcessingJob accepts, the record it writes (with the
defaults DescribeProcessingJob shows) and Stop. The job runs in ``emulator.jobs.processing_runner``.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any

from emulator.domain import jobs
from emulator.domain.lifecycle import PROCESSING, JobStatus
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context
from emulator.errors import ResourceLimitExceeded, ValidationException

MAX_INSTANCES = 16
DEFAULT_MAX_RUNTIME = 86400
ROOT = "/opt/ml/processing"
_SPARK = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/sagemaker-spark-processing[:@]")


def local_relative(local_path: str) -> str | None:
    """``LocalPath`` relative to /opt/ml/processing, or None when it is not a directory below it."""
    if not isinstance(local_path, str) or "\x00" in local_path or not local_path.startswith(ROOT + "/"):
        return None
    if ".." in local_path.split("/"):
        return None
    relative = posixpath.normpath(local_path[len(ROOT) + 1:])
    return None if relative in (".", "") or relative.startswith("/") else relative


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
    cluster = params["ProcessingResources"]["ClusterConfig"]
    if "InstanceType" not in cluster or "InstanceCount" not in cluster:
        raise ValidationException("ProcessingResources.ClusterConfig needs InstanceType and InstanceCount.")
    count = cluster["InstanceCount"]
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
    record["ProcessingJobStatus"] = JobStatus.IN_PROGRESS.value
    return record


def create(ctx: Context, params: dict[str, Any], launcher: JobLauncher) -> dict[str, Any]:
    """Validate a CreateProcessingJob request, write the record (InProgress) and launch it."""
    _check_supported(params)
    return jobs.insert_and_launch(ctx, PROCESSING, _with_defaults(params), params.get("Tags"), launcher)


def stop(ctx: Context, name: str, launcher: JobLauncher) -> dict[str, Any]:
    return jobs.stop(ctx, PROCESSING, name, launcher)
