"""The local base image smlocal/base:bookworm (scripts/build-base-image.sh).

Needs a running Docker engine (scripts/docker-engine.sh); fails without one.
The first build can take a minute or two (debootstrap when no registry is reachable).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import docker
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "scripts" / "build-base-image.sh"
IMAGE = "smlocal/base:bookworm"

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("require_docker")]


def _run_build(timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT)
    return proc, time.monotonic() - start


@pytest.fixture(scope="module")
def built_image() -> str:
    """Build (or find) the base image once for the module."""
    proc, _ = _run_build(timeout=1500)
    assert proc.returncode == 0, f"build failed:\n{proc.stdout}\n{proc.stderr}"
    return IMAGE


@pytest.fixture(scope="module")
def client():
    c = docker.from_env()
    yield c
    c.close()


def _run_in_image(client, image: str, command: list[str]) -> str:
    """Run a command in a fresh container; return its output; always remove the container."""
    container = client.containers.run(image, command, detach=True)
    try:
        result = container.wait(timeout=120)
        output = container.logs(stdout=True, stderr=True).decode()
        assert result["StatusCode"] == 0, f"{command} exited {result['StatusCode']}:\n{output}"
        return output
    finally:
        container.remove(force=True)


@pytest.mark.timeout(1800)
def test_build_is_idempotent(built_image):
    proc, elapsed = _run_build(timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 10, f"second build took {elapsed:.1f}s"
    assert "skipping" in proc.stdout, proc.stdout


def test_python_311_with_ssl_and_json(built_image, client):
    out = _run_in_image(
        client, built_image, ["python3", "-c", "import sys, ssl, json; print(sys.version_info[:2])"]
    )
    assert out.strip() == "(3, 11)"


def test_label_env_and_cmd(built_image, client):
    config = client.images.get(built_image).attrs["Config"]
    assert (config.get("Labels") or {}).get("org.smlocal.image") == "base"

    env = dict(item.split("=", 1) for item in config.get("Env") or [])
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    assert env.get("LANG") == "C.UTF-8"
    path = env.get("PATH", "").split(":")
    for needed in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        assert needed in path, f"PATH={env.get('PATH')!r} lacks {needed}"
    assert config.get("Cmd") == ["/bin/bash"]

    # The environment actually seen by a process, resolved through PATH.
    out = _run_in_image(
        client,
        built_image,
        ["sh", "-c", 'echo "$PYTHONUNBUFFERED"; command -v python3; command -v bash'],
    )
    unbuffered, python3, bash = out.split()
    assert unbuffered == "1"
    assert python3 == "/usr/bin/python3"
    assert bash in ("/usr/bin/bash", "/bin/bash")


def test_apt_get_is_usable(built_image, client):
    """Later images install Debian packages with apt-get on top of this one."""
    out = _run_in_image(
        client,
        built_image,
        [
            "sh",
            "-c",
            "command -v apt-get && apt-get --version | head -n1; "
            "cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null; "
            "test -s /usr/share/keyrings/debian-archive-keyring.gpg && echo keyring-ok; true",
        ],
    )
    lines = out.splitlines()
    assert lines[0] == "/usr/bin/apt-get", out
    assert lines[1].startswith("apt "), out
    assert "bookworm" in out, f"no bookworm apt source:\n{out}"
    assert "keyring-ok" in out, out
