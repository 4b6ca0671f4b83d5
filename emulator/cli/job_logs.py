"""``smlocal logs JOB [--follow]``: a job's container output, read through the public APIs
(Describe*Job + CloudWatch Logs) exactly as the SDK reads it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.config import Config

from emulator.cli.instance import RuntimeInfo

# job kind -> (Describe operation, name parameter, status field, log group)
KINDS = {
    "training": ("describe_training_job", "TrainingJobName", "TrainingJobStatus", "/aws/sagemaker/TrainingJobs"),
    "processing": ("describe_processing_job", "ProcessingJobName", "ProcessingJobStatus",
                   "/aws/sagemaker/ProcessingJobs"),
    "transform": ("describe_transform_job", "TransformJobName", "TransformJobStatus", "/aws/sagemaker/TransformJobs"),
}
TERMINAL = {"Completed", "Failed", "Stopped"}


def _clients(info: RuntimeInfo) -> tuple[Any, Any]:
    kwargs = dict(endpoint_url=info.gateway_url, region_name=info.region, aws_access_key_id=info.access_key,
                  aws_secret_access_key=info.secret_key, config=Config(retries={"max_attempts": 2}))
    # botocore, not boto3: boto3 is no runtime dependency of smlocal (only of its tests)
    session = botocore.session.get_session()
    return session.create_client("sagemaker", **kwargs), session.create_client("logs", **kwargs)


def find_job(sagemaker: Any, name: str) -> tuple[str, dict[str, Any]] | None:
    for kind, (operation, parameter, _, _) in KINDS.items():
        try:
            return kind, getattr(sagemaker, operation)(**{parameter: name})
        except sagemaker.exceptions.ClientError:
            continue
    return None


def follow(info: RuntimeInfo, name: str, emit: Callable[[str], None], keep_following: bool,
           poll: float = 1.0) -> str | None:
    """Print every log line of job ``name``; with ``keep_following`` until the job ends.
    Returns the job's final status (None when no such job)."""
    sagemaker, logs = _clients(info)
    found = find_job(sagemaker, name)
    if found is None:
        return None
    kind, job = found
    operation, parameter, status_field, group = KINDS[kind]
    tokens: dict[str, str | None] = {}
    while True:
        try:
            streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
        except logs.exceptions.ResourceNotFoundException:
            streams = []
        several = len(streams) > 1
        for stream in streams:
            stream_name = stream["logStreamName"]
            while True:
                args = {"logGroupName": group, "logStreamName": stream_name, "startFromHead": True}
                if tokens.get(stream_name):
                    args["nextToken"] = tokens[stream_name]
                page = logs.get_log_events(**args)
                tokens[stream_name] = page["nextForwardToken"]
                for event in page["events"]:
                    parts = stream_name.split("/")
                    host = parts[1].rsplit("-", 1)[0] + "".join("/" + p for p in parts[2:])   # algo-1/data-log
                    emit(f"[{host}] {event['message']}" if several else event["message"])
                if not page["events"]:
                    break
        status = job[status_field]
        if not keep_following or status in TERMINAL:
            return status
        time.sleep(poll)
        job = getattr(sagemaker, operation)(**{parameter: name})
        if job[status_field] in TERMINAL:
            keep_following = False  # one more pass collects the last lines
