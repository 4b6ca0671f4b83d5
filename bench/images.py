"""The images every side runs: a no-op training image and the stdlib test serving image, both FROM
smlocal/base:bookworm (no registry needed), and a model.tar.gz for the serving image."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parents[1]
TRAIN = "smlocal-bench/noop:latest"
SERVE = "smlocal-test/serve:latest"
SLEEP = "smlocal-bench/sleep:latest"        # a training image that sleeps hyperparameter `seconds`
_NOOP = (b"FROM smlocal/base:bookworm\n"
         b"RUN printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/train && chmod 755 /usr/local/bin/train\n")


def _build(tag: str, files: dict[str, bytes]) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker.from_env().images.build(fileobj=context, custom_context=True, tag=tag, rm=True)


def build_sleep() -> str:
    """SLEEP, built (the waiting benches run short jobs of a known length with it)."""
    _build(SLEEP, {
        "Dockerfile": b"FROM smlocal/base:bookworm\nCOPY train /usr/local/bin/train\n",
        "train": b"#!/usr/bin/python3\nimport json, time\n"
                 b"time.sleep(float(json.load(open('/opt/ml/input/config/hyperparameters.json'))['seconds']))\n"})
    return SLEEP


def build_all() -> None:
    _build(TRAIN, {"Dockerfile": _NOOP})
    serve = ROOT / "tests" / "integration" / "images" / "serve"
    _build(SERVE, {path.name: path.read_bytes() for path in sorted(serve.iterdir())})


def model_tarball() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        data = b"bench-model\n"
        info = tarfile.TarInfo("model.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()
