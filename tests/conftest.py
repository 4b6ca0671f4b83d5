"""Shared fixtures: a live gateway on a random free port, and real boto3 clients pointed at it."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import S3_ACCESS, S3_SECRET, LiveGateway, docker_available, free_port, live_gateway

from emulator.s3.embedded import EmbeddedS3

# SDK 3 code: run in its own venv by tests/e2e/test_sdk3_ring.py, never collected with SDK 2
collect_ignore = ["e2e_sdk3"]


@pytest.fixture(scope="session")
def gateway(tmp_path_factory) -> Iterator[LiveGateway]:
    with live_gateway(tmp_path_factory.mktemp("gateway")) as gw:
        yield gw


@pytest.fixture(scope="session")
def embedded_s3(tmp_path_factory):
    """One SeaweedFS on loopback for the whole session (tests use their own bucket names). It needs
    no Docker: the fast rings use it with the fake container runtime."""
    root = tmp_path_factory.mktemp("embedded-s3")
    with EmbeddedS3(root / "data", free_port(), S3_ACCESS, S3_SECRET, log_file=root / "weed.log") as server:
        yield server


@pytest.fixture(scope="session")
def sm(gateway):
    return gateway.client("sagemaker")


@pytest.fixture(scope="session")
def logs(gateway):
    return gateway.client("logs")


@pytest.fixture(scope="session")
def runtime(gateway):
    return gateway.client("sagemaker-runtime")


@pytest.fixture
def unique(request) -> str:
    """A resource name unique to the test (SageMaker name rules: alphanumerics and hyphens)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:40].strip("-")
    return f"{base}-{int(time.time() * 1000) % 10**7}-{os.getpid() % 1000}"


@pytest.fixture(scope="session")
def require_docker() -> None:
    if not docker_available():
        pytest.fail("no Docker engine answers `docker info`: run scripts/docker-engine.sh first, "
                    "or deselect these tests with -m \"not docker\"")


@pytest.fixture(scope="session")
def base_image(require_docker) -> str:
    """smlocal/base:bookworm, built by the project's script when missing (offline: debootstrap)."""
    script = Path(__file__).resolve().parents[1] / "scripts" / "build-base-image.sh"
    subprocess.run([str(script)], check=True, timeout=1500)
    return "smlocal/base:bookworm"
