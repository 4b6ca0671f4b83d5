"""End-to-end fixtures: the integration ring's live emulator (``jobs_gateway`` on the embedded S3
server, framework images built) and a user's shell after ``eval "$(smlocal env)"``."""

from __future__ import annotations

import os
import shlex
import time

import pytest
from integration.conftest import *  # noqa: F403 - embedded_s3, s3_server, s3, bucket, jobs_gateway, framework_image, ...

from emulator.cli.instance import RuntimeInfo, env_lines, write_sdk_config


@pytest.fixture(scope="module")
def smlocal_env(jobs_gateway, s3_server, s3) -> dict[str, str]:
    """The environment a user's shell has after ``eval "$(smlocal env)"`` for ``jobs_gateway``,
    produced by the same code as ``smlocal env``, with no other AWS or SageMaker settings."""
    settings = jobs_gateway.settings
    if settings.default_bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=settings.default_bucket)  # `smlocal up` creates it
    info = RuntimeInfo(pid=os.getpid(), gateway_url=jobs_gateway.url, s3_endpoint=s3_server.endpoint,
                       access_key=s3_server.access_key, secret_key=s3_server.secret_key,
                       region=settings.region, account_id=settings.account_id, data_dir=str(settings.data_dir),
                       sdk_config=str(write_sdk_config(settings)), started_at=time.time())
    exported = {}
    for line in env_lines(info):
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            exported[key] = shlex.split(value)[0]
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))}
    return {**base, **exported, "SAGEMAKER_SUPPRESS_V2_WARNING": "1", "PYTHONUNBUFFERED": "1"}
