"""The console's assets rebuild byte for byte from the pinned npm packages, and a wheel alone serves
the console (templates and assets are package data)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "emulator" / "console" / "static"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to rebuild the console's assets: apt-get install npm (.ci/run does)")
    return npm


def test_assets_rebuild_identically_from_the_lock_file(tmp_path):
    work = tmp_path / "frontend"
    shutil.copytree(ROOT / "frontend", work, ignore=shutil.ignore_patterns("node_modules"))
    # build.mjs names its inputs relative to the repository: give it the same layout
    out = tmp_path / "static"
    subprocess.run([_npm(), "ci", "--no-audit", "--no-fund"], cwd=work, check=True, capture_output=True,
                   timeout=600)
    env = {"PATH": str(Path(_npm()).parent) + ":/usr/bin:/bin", "SMLOCAL_CONSOLE_OUT": str(out),
           "HOME": str(tmp_path)}
    subprocess.run([_npm(), "run", "build"], cwd=work, check=True, capture_output=True, timeout=300, env=env)
    for name in ("console.js", "console.css"):
        assert (out / name).read_bytes() == (STATIC / name).read_bytes(), \
            f"static/{name} is not what frontend/ builds: cd frontend && npm ci && npm run build, then commit"


def test_a_wheel_alone_serves_the_console(tmp_path):
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    wheel = next((tmp_path / "dist").glob("smlocal-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("emulator/console/static/console.js", "emulator/console/static/console.css",
                   "emulator/console/templates/base.html", "emulator/console/templates/jobs/training.html",
                   "emulator/console/templates/logs/_lines.html"):
        assert needed in names, f"{needed} is not in the wheel"
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # the unpacked wheel, not the checkout, serves a page and its assets
    script = (
        "import sys, tempfile, pathlib\n"
        "from starlette.testclient import TestClient\n"
        "import emulator\n"
        f"assert emulator.__file__.startswith({str(unpacked)!r}), emulator.__file__\n"
        "from emulator.config import Settings\n"
        "from emulator.server import create\n"
        "app, _ = create(Settings(data_dir=pathlib.Path(tempfile.mkdtemp()), port=4599))\n"
        "client = TestClient(app, base_url='http://127.0.0.1:4599')\n"
        "page = client.get('/_smlocal/training-jobs')\n"
        "assert page.status_code == 200 and 'No training jobs yet' in page.text, page.text[:500]\n"
        "asset = client.get('/_smlocal/static/console.js')\n"
        "assert asset.status_code == 200 and len(asset.content) > 10000\n"
        "print('served')\n")
    # a virtualenv that sees the dependencies but not the checkout's editable install (whose import hook
    # would win over PYTHONPATH)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python*/site-packages"))
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "deps.pth").write_text("\n".join(deps) + "\n")
    run = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert run.returncode == 0 and "served" in run.stdout, run.stdout + run.stderr
