"""Running sdk_side.py in the peers' venv and cleaning up after SDK local mode."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import docker

HERE = Path(__file__).resolve().parent
_LOCAL_CONFIG = ("SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n"
                 "      TelemetryOptOut: true\n")


def sdk(python: Path, args: list[str], env: dict[str, str] | None = None, timeout: float = 900) -> dict:
    """One sdk_side.py run; `env` None means local mode (dummy credentials, telemetry off)."""
    if env is None:
        config = Path(tempfile.gettempdir()) / "smlocal-bench-local-mode.yaml"
        config.write_text(_LOCAL_CONFIG)
        env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
               "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config)}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_", "PYTHONPATH"))}
    full = {**clean, **env, "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    done = subprocess.run([str(python), str(HERE / "sdk_side.py"), *args], capture_output=True, text=True,
                          env=full, timeout=timeout, cwd=tempfile.gettempdir())
    if done.returncode != 0:
        raise RuntimeError(f"sdk_side.py {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def local_mode_leftovers(image: str, since: float) -> int:
    """Containers SDK local mode left behind for `image` (created after `since`); removes them and
    returns how many there were."""
    client = docker.from_env()
    left = 0
    for container in client.containers.list(all=True, filters={"ancestor": image}):
        if container.labels.get("org.smlocal.managed"):
            continue
        created = container.attrs.get("Created", "")
        if "-algo-" in container.name and _epoch(created) >= since - 1:
            left += 1
            container.remove(force=True)
    return left


def _epoch(created: str) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(created[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0.0
