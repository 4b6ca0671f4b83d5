"""End-to-end ring: unmodified SageMaker SDK, boto3 and AWS CLI code against a live emulator that runs
real containers. It reuses the integration ring's fixtures (S3 server, gateway, images)."""

from __future__ import annotations

import pytest
from integration.conftest import *  # noqa: F403 - the fixtures: embedded_s3, s3_server, jobs_gateway, images
from tests_support_sdk import sdk_environment

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def sdk(jobs_gateway, s3_server, bucket, monkeypatch, tmp_path):
    """A plain ``sagemaker.Session()`` after what ``eval "$(smlocal env)"`` exports."""
    sdk_environment(monkeypatch, tmp_path, jobs_gateway.url, s3_server, bucket)
    import sagemaker

    return sagemaker.Session()
