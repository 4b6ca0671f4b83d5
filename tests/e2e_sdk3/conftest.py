"""The SDK 3 ring's fixtures. This code runs in .venv-sdk3 (SageMaker Python SDK 3) and imports nothing
from smlocal: like a user's code, it only has what ``eval "$(smlocal env)"`` exports (the parent test,
tests/e2e/test_sdk3_ring.py, passes that environment plus the names of two test images).

No v3 flow may reach the internet: an audit hook sees every DNS lookup and socket connect in this
process, and each test fails if one went anywhere but loopback (or a Unix socket)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CODE = HERE / "code"
EXAMPLES = HERE.parents[1] / "examples"
EXAMPLE_NAMES = ("timeseries", "text", "images")
EXAMPLE_TIMEOUT = 900
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

OFFLINE = HERE / "offline"   # offline_audit.py and the examples' sitecustomize.py
sys.path.insert(0, str(OFFLINE))
import offline_audit  # noqa: E402

_OUTBOUND: list[str] = []
_LOCK = threading.Lock()


def _record(line: str) -> None:
    _OUTBOUND.append(line)


offline_audit.install(_record)


@pytest.fixture(autouse=True)
def no_internet():
    """Fails the test when anything in this process looked up or connected to a non-loopback address."""
    with _LOCK:
        _OUTBOUND.clear()
    yield
    with _LOCK:
        seen = sorted(set(_OUTBOUND))
    assert not seen, f"a v3 flow reached beyond loopback: {seen}"


@pytest.fixture(scope="session", autouse=True)
def smlocal_environment():
    missing = [k for k in ("AWS_ENDPOINT_URL", "SAGEMAKER_USER_CONFIG_OVERRIDE") if not os.environ.get(k)]
    if missing:
        pytest.exit(f"run this ring after `eval \"$(smlocal env)\"` ({', '.join(missing)} unset)", returncode=4)


@pytest.fixture
def shown(capfd, caplog):
    """What the SDK showed so far: printed (stdout, stderr) and logged (SDK 3 logs container lines)."""
    caplog.set_level(logging.INFO)

    def text() -> str:
        return "".join(capfd.readouterr()) + caplog.text
    return text


@pytest.fixture(scope="session")
def session():
    from sagemaker.core.helper.session_helper import Session

    return Session()


@pytest.fixture(scope="session")
def bucket(session) -> str:
    return session.default_bucket()


@pytest.fixture(scope="session")
def s3(session):
    return session.boto_session.client("s3")


@pytest.fixture(scope="session")
def sm(session):
    return session.sagemaker_client


@pytest.fixture(scope="session")
def train_image() -> str:
    """A bring-your-own training image (tests/integration/images/train), built by the parent test."""
    return os.environ.get("SMLOCAL_TEST_TRAIN_IMAGE", "smlocal-test/train:latest")


@pytest.fixture(scope="session")
def serve_image() -> str:
    """A bring-your-own serving image (tests/integration/images/serve), built by the parent test."""
    return os.environ.get("SMLOCAL_TEST_SERVE_IMAGE", "smlocal-test/serve:latest")


@pytest.fixture
def unique(request) -> str:
    base = "".join(c if c.isalnum() else "-" for c in request.node.name)[:36].strip("-")
    return f"v3-{base}-{int(time.time() * 1000) % 10**7}"


def ecr(repo: str, tag: str, account: str = "683313688378") -> str:
    return f"{account}.dkr.ecr.us-east-1.amazonaws.com/{repo}:{tag}"


def pytest_collection_modifyitems(items):
    """The examples' checks last: they wait for the example subprocesses started with the session."""
    items.sort(key=lambda item: item.path.name == "test_examples_v3.py")


@pytest.fixture(scope="session", autouse=True)
def example_runs(request, tmp_path_factory):
    """Starts the three SDK 3 examples at once when test_examples_v3.py is selected (before the first test,
    so they overlap the rest); yields name -> (process, log path, start time)."""
    if not any(item.path.name == "test_examples_v3.py" for item in request.session.items):
        yield {}
        return
    logs = tmp_path_factory.mktemp("examples-v3")
    outbound = logs / "outbound.txt"
    outbound.write_text("")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "SMLOCAL_OUTBOUND_LOG": str(outbound),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(OFFLINE), os.environ.get("PYTHONPATH")]))}
    started = {}
    for name in EXAMPLE_NAMES:
        log = logs / f"{name}.log"
        with log.open("w") as out:
            process = subprocess.Popen([sys.executable, str(EXAMPLES / name / "pipeline_v3.py")], cwd=EXAMPLES.parent,
                                       env=env, stdout=out, stderr=subprocess.STDOUT)
        started[name] = (process, log, time.monotonic())
    yield started
    assert outbound.read_text() == "", f"an SDK 3 example reached beyond loopback:\n{outbound.read_text()}"
    for process, _, _ in started.values():
        if process.poll() is None:
            process.kill()
            process.wait()
