"""Integration fixtures: a real S3 server reachable from containers, a gateway that runs jobs in
Docker, and tiny test images built from the project's base image."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import boto3
import docker
import pytest
from support import CLEAN_VENV, S3_ACCESS, S3_SECRET, live_gateway

from emulator.config import S3Settings
from emulator.hosting.fleet import stop_all
from emulator.infra.docker_engine import DockerEngine
from emulator.s3.bridge import BridgeRelay

IMAGES = Path(__file__).parent / "images"


@pytest.fixture(scope="session")
def bridge_relay(embedded_s3, require_docker):
    """The relay that lets containers on the Docker bridge reach ``embedded_s3``. It listens on a port
    the system picks: other smlocal instances and test sessions on this machine relay their own S3
    servers on the same bridge address."""
    relay = BridgeRelay(embedded_s3.port, 0)
    assert relay.start(), "Docker runs but no docker0 bridge address was found"
    yield relay
    relay.stop()


@pytest.fixture(scope="session")
def s3_server(embedded_s3, bridge_relay):
    return S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET,
                      container_endpoint=f"http://host.docker.internal:{bridge_relay.listen_port}")


@pytest.fixture(scope="session")
def s3(embedded_s3):
    return boto3.client("s3", endpoint_url=embedded_s3.endpoint, region_name="us-east-1",
                        aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET)


@pytest.fixture(scope="session")
def bucket(s3):
    # tests/e2e imports these fixtures, so a run of both rings asks for the bucket twice
    if "jobs" not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket="jobs")
    return "jobs"


@pytest.fixture(scope="module")
def jobs_gateway(tmp_path_factory, s3_server):
    with live_gateway(tmp_path_factory.mktemp("jobs-gateway"), s3=s3_server, stop_grace_seconds=3,
                      max_concurrent_jobs=4) as gateway:
        yield gateway
    # endpoints a failed test left behind: their containers outlive the gateway by design
    stop_all(DockerEngine(), gateway.settings.data_dir, grace=1)


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


@pytest.fixture(scope="session")
def tune_image(base_image) -> str:
    """A training image whose score is a known function of its hyperparameters (tuning tests)."""
    return build_image("tune", "smlocal-test/tune:latest")


@pytest.fixture(scope="session")
def framework_image(base_image):
    """``framework_image("sklearn")`` -> the local tag, built (or rebuilt after a toolkit change) first,
    through the same builder as ``smlocal images build``. Each image is checked once per session."""
    from emulator.image_builder import ImageBuilder
    from emulator.images import CATALOG

    builder, checked = ImageBuilder(), set()

    def get(name: str) -> str:
        if name not in checked:
            builder.build([name], progress=lambda line: None)
            checked.add(name)
        return CATALOG[name].tag
    return get


@pytest.fixture(scope="session")
def process_image(framework_image) -> str:
    """A processing image with its own ENTRYPOINT, FROM smlocal/ml-base (python3, pandas, pip), which is
    built first when no earlier test built it (a ring run alone, or in another order)."""
    framework_image("ml-base")
    return build_image("process", "smlocal-test/process:latest")


@pytest.fixture(scope="session")
def serve_image(base_image) -> str:
    return build_image("serve", "smlocal-test/serve:latest")


def pytest_collection_finish(session):
    """test_packaging.py's clean venv starts installing now, in a thread (support.CleanVenv)."""
    if any(item.path.name == "test_packaging.py" and item.path.parent.name == "integration"
           for item in session.items):
        CLEAN_VENV.start(Path(__file__).resolve().parents[2], session.config._tmp_path_factory.mktemp("clean"))
