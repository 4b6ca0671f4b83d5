"""End-to-end ring: unmodified SageMaker SDK, boto3 and AWS CLI code (and the workshop examples)
against a live emulator that runs real containers. It reuses the integration ring's fixtures
(``jobs_gateway`` on the embedded S3 server, framework images built)."""

from __future__ import annotations

import os
import shlex
import time

import pytest
from integration.conftest import *  # noqa: F403 - embedded_s3, s3_server, s3, bucket, jobs_gateway, framework_image, ...
from tests_support_sdk import sdk_environment

from emulator.cli.instance import RuntimeInfo, env_lines, write_sdk_config


@pytest.fixture
def sdk(jobs_gateway, s3_server, bucket, monkeypatch, tmp_path):
    """A plain ``sagemaker.Session()`` after what ``eval "$(smlocal env)"`` exports."""
    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    import sagemaker

    return sagemaker.Session()


@pytest.fixture(scope="module")
def smlocal_env(jobs_gateway, s3_server, s3) -> dict[str, str]:
    """The environment a user's shell has after ``eval "$(smlocal env)"`` for ``jobs_gateway``,
    produced by the same code as ``smlocal env``, with no other AWS or SageMaker settings."""
    settings = jobs_gateway.settings
    try:
        s3.create_bucket(Bucket=settings.default_bucket)  # `smlocal up` creates it
    except s3.exceptions.BucketAlreadyOwnedByYou:
        pass                                              # another module's fixture did
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
