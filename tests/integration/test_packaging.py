"""smlocal as a user installs it: `pip install -e .` into a clean virtualenv, without the test extras
(no boto3, no SageMaker SDK). Every CLI command answers `--help`, and the commands run for real against
an instance started from that virtualenv (issue 20: `smlocal logs` imported boto3 and crashed).
Installing the project's metadata prints no setuptools warnings either (the SPDX license string).

The install takes about a minute (the runtime dependencies come from pip's index or its cache).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import typer
from support import CLEAN_VENV, free_port

from emulator.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.docker


def _commands(command: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the CLI: (), ("up",), ("images",), ("images", "list"), ..."""
    paths = [prefix]
    if isinstance(getattr(command, "commands", None), dict):   # a group (typer's own click or click's)
        for name, sub in command.commands.items():  # type: ignore[attr-defined]
            paths += _commands(sub, (*prefix, name))
    return paths


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory) -> Path:
    """Started in the background when collection ended (support.CleanVenv); waited for here."""
    return CLEAN_VENV.wait(ROOT, tmp_path_factory.mktemp("clean"))


def _run(venv: Path, *args: str, data_dir: Path | None = None, timeout: float = 180
         ) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    extra = ["--data-dir", str(data_dir)] if data_dir is not None else []
    return subprocess.run([str(venv / "bin" / "smlocal"), *args, *extra], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=str(venv.parent))


def test_the_clean_venv_has_no_test_extras(clean_venv):
    probe = subprocess.run([str(clean_venv / "bin" / "python"), "-c", "import boto3"], capture_output=True,
                           text=True, timeout=60)
    assert probe.returncode != 0 and "No module named 'boto3'" in probe.stderr


def test_every_command_answers_help(clean_venv):
    paths = _commands(typer.main.get_command(app))
    assert {("up",), ("down",), ("status",), ("env",), ("logs",), ("console",), ("images", "list"),
            ("images", "build")} <= set(paths)
    for path in paths:
        shown = _run(clean_venv, *path, "--help")
        assert shown.returncode == 0, (path, shown.stdout, shown.stderr)
        assert "Usage:" in shown.stdout and "Traceback" not in shown.stderr


def test_every_command_runs_from_the_clean_venv(clean_venv, tmp_path, base_image):
    data_dir = tmp_path / "data"
    port, s3_port = free_port(), free_port()
    up = _run(clean_venv, "up", "--detach", "--no-build-images", "--port", str(port), "--s3-port", str(s3_port),
              data_dir=data_dir)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        env = _run(clean_venv, "env", data_dir=data_dir)
        assert env.returncode == 0 and f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in env.stdout, env.stderr
        status = _run(clean_venv, "status", data_dir=data_dir)
        assert status.returncode == 0, status.stdout + status.stderr
        console = _run(clean_venv, "console", "--no-open", data_dir=data_dir)
        assert console.returncode == 0 and console.stdout.strip() == f"http://127.0.0.1:{port}/_smlocal/"
        listed = _run(clean_venv, "images", "list")
        assert listed.returncode == 0 and "sklearn" in listed.stdout, listed.stdout + listed.stderr

        missing = _run(clean_venv, "logs", "no-such-job", data_dir=data_dir)
        assert missing.returncode == 1 and "Traceback" not in missing.stderr, missing.stderr
        assert "no training, processing or transform job named no-such-job" in " ".join(missing.stderr.split())

        # a real job's output through `smlocal logs` (created with this test's boto3: the clean venv has none)
        values = dict(line[len("export "):].split("=", 1) for line in env.stdout.splitlines()
                      if line.startswith("export "))
        sagemaker = boto3.client("sagemaker", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                                 aws_access_key_id=values["AWS_ACCESS_KEY_ID"].strip("'"),
                                 aws_secret_access_key=values["AWS_SECRET_ACCESS_KEY"].strip("'"))
        sagemaker.create_processing_job(
            ProcessingJobName="clean-venv-logs", RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
            AppSpecification={"ImageUri": base_image,
                              "ContainerEntrypoint": ["sh", "-c", "echo hello from a processing container"]},
            ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                                   "VolumeSizeInGB": 1}})
        followed = _run(clean_venv, "logs", "clean-venv-logs", "--follow", data_dir=data_dir, timeout=300)
        assert followed.returncode == 0, followed.stdout + followed.stderr
        assert "hello from a processing container" in followed.stdout
        assert "clean-venv-logs: Completed" in followed.stderr
    finally:
        down = _run(clean_venv, "down", data_dir=data_dir)
    assert down.returncode == 0 and "smlocal stopped" in down.stdout, down.stdout + down.stderr
    deadline = time.monotonic() + 10
    while (data_dir / "runtime.json").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not (data_dir / "runtime.json").exists()


def test_installing_the_metadata_prints_no_setuptools_warnings(tmp_path):
    """`./scripts/smlocal up` installs the project on first start: its build prints nothing but pip's own
    progress (the license as a TOML table made setuptools print a deprecation warning per build step)."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    output = built.stdout + built.stderr
    assert "License-Expression: Apache-2.0" in _metadata(next(tmp_path.glob("smlocal-*.whl")))
    noisy = [line for line in output.splitlines()
             if "Warning" in line or "deprecated" in line.lower()]
    # pip's own notes about this machine's index configuration are not the project's
    noisy = [line for line in noisy if "Location 'file:" not in line]
    assert noisy == []


def _metadata(wheel: Path) -> str:
    import zipfile

    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode()
