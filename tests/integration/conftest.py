"""Integration fixtures: a real S3 server reachable from containers, a gateway that runs jobs in
Docker, and tiny test images built from the project's base image."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3
import docker
import pytest
from support import free_port, live_gateway

from emulator.config import S3Settings
from emulator.s3.bridge import BridgeRelay
from emulator.s3.embedded import EmbeddedS3

IMAGES = Path(__file__).parent / "images"
ACCESS, SECRET = "SMLOCALTESTKEY", "smlocal-test-secret-key"


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory, require_docker):
    """SeaweedFS on loopback plus the relay that lets containers reach it."""
    port = free_port()
    server = EmbeddedS3(tmp_path_factory.mktemp("s3"), port, ACCESS, SECRET)
    server.start()
    relay = BridgeRelay(port)
    assert relay.start(), "no Docker bridge for the S3 relay"
    yield S3Settings(endpoint=server.endpoint, access_key=ACCESS, secret_key=SECRET,
                     container_endpoint=f"http://host.docker.internal:{port}")
    relay.stop()
    server.stop()


@pytest.fixture(scope="session")
def s3(s3_server):
    return boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                        aws_access_key_id=ACCESS, aws_secret_access_key=SECRET)


@pytest.fixture(scope="session")
def bucket(s3):
    s3.create_bucket(Bucket="jobs")
    return "jobs"


@pytest.fixture(scope="module")
def jobs_gateway(tmp_path_factory, s3_server):
    with live_gateway(tmp_path_factory.mktemp("jobs-gateway"), s3=s3_server, stop_grace_seconds=3,
                      max_concurrent_jobs=4) as gateway:
        yield gateway


def build_image(name: str, tag: str) -> str:
    """Build tests/integration/images/<name> (a Dockerfile + files) as ``tag``."""
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for path in sorted((IMAGES / name).iterdir()):
            tar.add(path, arcname=path.name)
    context.seek(0)
    client = docker.from_env()
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True)
    return tag


@pytest.fixture(scope="session")
def train_image(base_image) -> str:
    return build_image("train", "smlocal-test/train:latest")
