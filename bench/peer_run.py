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
    """Stopped containers of `image` that SDK local mode (compose services named `<id>-algo-<n>-<id>`)
    left behind since `since`; removes them and returns how many there were."""
    client = docker.from_env()
    left = 0
    # by the image name the container was created from, not `ancestor` (which resolves the tag now,
    # and misses containers of an image the tag pointed to before a rebuild)
    for container in client.api.containers(all=True, filters={"name": "-algo-", "status": "exited"}):
        labels = container.get("Labels") or {}
        if (labels.get("org.smlocal.managed") or container.get("Image") != image
                or container.get("Created", 0) < since - 1):
            continue
        left += 1
        client.api.remove_container(container["Id"], force=True)
    return left

