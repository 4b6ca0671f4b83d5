"""The peers smlocal is compared with (SDK local mode, moto), installed into the harness's own venv,
and the facts about this machine that go next to the numbers."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import docker

PEERS = ["sagemaker[local]==2.257.7", "moto[server]"]
DEFAULT_VENV = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "smlocal-bench" / "venv"


def ensure_venv(venv: Path) -> Path:
    """Create the peers' venv on first use; returns its python."""
    python = venv / "bin" / "python"
    marker = venv / ".peers"
    if marker.exists() and marker.read_text() == "\n".join(PEERS):
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"installing {', '.join(PEERS)} into {venv}", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PEERS], check=True)
    marker.write_text("\n".join(PEERS))
    return python


def fast_extras_installed() -> bool:
    return subprocess.run([sys.executable, "-c", "import uvloop, httptools"], capture_output=True).returncode == 0


def fast_extras(venv: Path) -> Path | None:
    """smlocal's `fast` extra (uvloop, httptools), as `scripts/smlocal` installs it. If this interpreter
    lacks them they go into a directory next to the peers' venv, put on the emulator's PYTHONPATH only."""
    if fast_extras_installed():
        return None
    target = venv.parent / "fast-extras"
    if not (target / "uvloop").exists() or not (target / "httptools").exists():
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--target", str(target), "uvloop>=0.19",
                        "httptools>=0.6"], check=True)
    return target


def compose_command() -> list[str] | None:
    """What SDK local mode will run: `docker compose` (v2) or `docker-compose` (v1)."""
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"] if shutil.which("docker-compose") else None


def versions(peer_python: Path, emulator_path: Path | None) -> dict[str, str]:
    code = ("import json, importlib.metadata as m; print(json.dumps({p: m.version(p) for p in "
            "['sagemaker', 'moto', 'boto3', 'botocore']}))")
    found = json.loads(subprocess.run([str(peer_python), "-c", code], capture_output=True, text=True,
                                      check=True).stdout)
    from importlib import metadata

    import emulator

    found = {f"{k} (peer venv)": v for k, v in found.items()}
    found.update({"smlocal": emulator.__version__, "boto3 (harness)": metadata.version("boto3"),
                  "uvicorn": metadata.version("uvicorn"), "python": platform.python_version()})
    code = ("import importlib.metadata as m\nfor p in ('uvloop', 'httptools'):\n    try: print(p, m.version(p))\n"
            "    except m.PackageNotFoundError: print(p, 'not installed')")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(emulator_path or ""),
                                                                  os.environ.get("PYTHONPATH", "")]))}
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout
    for line in listed.splitlines():
        if line:
            name, version = line.split(" ", 1)
            found[f"{name} (emulator)"] = version
    compose = compose_command()
    if compose:
        found["compose"] = subprocess.run([*compose, "version", "--short"], capture_output=True,
                                          text=True).stdout.strip()
    found["docker engine"] = docker.from_env().version().get("Version", "?")
    return found


def machine() -> dict[str, str | int]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**30
    except (ValueError, OSError):
        pass
    return {"cpus": os.cpu_count() or 0, "cpu": model, "memory_gib": mem,
            "os": f"{platform.system()} {platform.release()}", "load_at_start": os.getloadavg()[0]}
