"""Training jobs in the domain: what CreateTrainingJob accepts, the record it writes (with the
defaults DescribeTrainingJob shows) and Stop. Any caller creates training jobs through ``create``:
the API handler, a pipeline step, a tuning trial. The job itself runs in ``emulator.jobs``.
"""

from __future__ import annotations

import time
from typing import Any

from emulator import builtin_metrics
from emulator.domain import jobs, training_status
from emulator.domain.lifecycle import TRAINING, JobStatus
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context
from emulator.errors import ResourceLimitExceeded, ValidationException

MAX_INSTANCES = 16
DEFAULT_MAX_RUNTIME = 86400


def _check_supported(params: dict[str, Any]) -> None:
    """Reject what smlocal cannot run, with a message that says what to use instead."""
    algorithm = params["AlgorithmSpecification"]
    if "TrainingImage" not in algorithm:
        raise ValidationException(
            "AlgorithmSpecification.TrainingImage is required: smlocal runs training images, not "
            "SageMaker algorithm resources (AlgorithmName).")
    if algorithm["TrainingInputMode"] == "Pipe":
        raise ValidationException("TrainingInputMode Pipe is not supported by smlocal; use File or FastFile.")
    _check_channels(params.get("InputDataConfig", []))
    _check_resources(params["ResourceConfig"])
    if not params["OutputDataConfig"]["S3OutputPath"].startswith("s3://"):
        raise ValidationException("OutputDataConfig.S3OutputPath must be an s3:// URI.")
    checkpoint = params.get("CheckpointConfig")
    if checkpoint and not checkpoint["S3Uri"].startswith("s3://"):
        raise ValidationException("CheckpointConfig.S3Uri must be an s3:// URI.")


def _check_channels(channels: list[dict[str, Any]]) -> None:
    names = set()
    for channel in channels:
        name = channel["ChannelName"]
        if name in names:
            raise ValidationException(f"Channel names must be unique: {name} appears more than once.")
        names.add(name)
        if channel.get("InputMode") == "Pipe":
            raise ValidationException(
                f"Channel {name} uses InputMode Pipe, which smlocal does not support; use File or FastFile.")
        source = channel["DataSource"].get("S3DataSource")
        if source is None:
            raise ValidationException(
                f"Channel {name} needs an S3DataSource: smlocal does not mount EFS/FSx file systems or datasets.")
        if source["S3DataType"] not in ("S3Prefix", "ManifestFile"):
            raise ValidationException(
                f"Channel {name} uses S3DataType {source['S3DataType']}; smlocal supports S3Prefix and ManifestFile.")
        if not source["S3Uri"].startswith("s3://"):
            raise ValidationException(f"Channel {name}: smlocal reads s3:// URIs only, not {source['S3Uri']}.")


def _check_resources(resources: dict[str, Any]) -> None:
    if resources.get("InstanceGroups"):
        raise ValidationException("Heterogeneous clusters (ResourceConfig.InstanceGroups) are not supported by "
                                  "smlocal; use InstanceType and InstanceCount.")
    if "InstanceType" not in resources or "InstanceCount" not in resources:
        raise ValidationException("ResourceConfig needs InstanceType and InstanceCount.")
    if resources["InstanceCount"] > MAX_INSTANCES:
        raise ResourceLimitExceeded(
            f"smlocal runs at most {MAX_INSTANCES} instances per training job (each is a container on this "
            f"machine); the request asks for {resources['InstanceCount']}.")


def validate(params: dict[str, Any]) -> None:
    """What ``create`` checks before writing anything (tuning jobs check their trials' requests with it)."""
    for required in ("AlgorithmSpecification", "ResourceConfig"):
        if required not in params:
            raise ValidationException(f"{required} is required.")
    _check_supported(params)


def create(ctx: Context, params: dict[str, Any], launcher: JobLauncher) -> dict[str, Any]:
    """Validate a CreateTrainingJob request, write the record (InProgress / Starting) and launch it."""
    validate(params)
    record = {k: v for k, v in params.items() if k != "Tags"}
    record["StoppingCondition"] = {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME,
                                   **(params.get("StoppingCondition") or {})}
    record["OutputDataConfig"] = {"KmsKeyId": "", **params["OutputDataConfig"]}
    record["ResourceConfig"] = {"VolumeSizeInGB": 30, **params["ResourceConfig"]}
    for flag in ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining"):
        record.setdefault(flag, False)
    record["HyperParameters"] = params.get("HyperParameters") or {}
    record["AlgorithmSpecification"] = builtin_metrics.with_defaults(params["AlgorithmSpecification"],
                                                                     record["HyperParameters"])
    record["TrainingJobStatus"] = JobStatus.IN_PROGRESS.value
    training_status.transition(record, "Starting", time.time())
    return jobs.insert_and_launch(ctx, TRAINING, record, params.get("Tags"), launcher)


def stop(ctx: Context, name: str, launcher: JobLauncher) -> dict[str, Any]:
    return jobs.stop(ctx, TRAINING, name, launcher)
