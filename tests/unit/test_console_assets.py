"""The console's built assets are what frontend/ builds, and the wheel ships them."""

from __future__ import annotations

import fnmatch
import hashlib
import json
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "emulator" / "console" / "static"
CONSOLE = ROOT / "emulator" / "console"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_built_assets_match_their_sources():
    """Fails when a source was edited without `cd frontend && npm ci && npm run build`, or a built file by hand."""
    manifest = json.loads((STATIC / "build.json").read_text())
    for path, digest in manifest["inputs"].items():
        assert _sha(ROOT / path) == digest, f"{path} changed since the last build: cd frontend && npm run build"
    for path, digest in manifest["outputs"].items():
        assert _sha(STATIC / path) == digest, f"static/{path} differs from what frontend/build.mjs wrote"


def test_front_end_packages_are_pinned():
    package = json.loads((ROOT / "frontend" / "package.json").read_text())
    lock = json.loads((ROOT / "frontend" / "package-lock.json").read_text())
    for name, version in package["devDependencies"].items():
        assert version[0].isdigit(), f"{name} must be pinned to an exact version, not {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
        assert lock["packages"][f"node_modules/{name}"]["integrity"].startswith("sha512-")
    manifest = json.loads((STATIC / "build.json").read_text())
    assert manifest["packages"]["htmx.org"]["version"] == package["devDependencies"]["htmx.org"]


def test_package_data_covers_every_template_and_asset():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["emulator.console"]
    files = [p.relative_to(CONSOLE).as_posix() for p in CONSOLE.rglob("*")
             if p.is_file() and p.parent.name != "__pycache__" and p.suffix != ".py"]
    assert any(f.startswith("templates/") for f in files) and "static/console.js" in files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, g) and f.count("/") == g.count("/") for g in globs)]
    assert not missing, f"not shipped in the wheel: {missing}"


def test_pages_load_no_third_party_origin():
    """Offline by construction: no template names a URL of another host."""
    for template in (CONSOLE / "templates").rglob("*.html"):
        text = template.read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, template
