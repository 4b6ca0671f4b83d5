"""docs/images.md lists the modules user scripts import from AWS's containers: every one marked
**provided** imports from smlocal's toolkit and has each name the table lists (issue 20)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "containers" / "toolkit" / "src"))


def provided() -> list[tuple[str, list[str]]]:
    text = (ROOT / "docs" / "images.md").read_text()
    section = text.split("## Modules user scripts import from AWS's containers", 1)[1]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[2].startswith("**provided**"):
            rows.append((cells[0].strip("`"), re.findall(r"`([^`]+)`", cells[1])))
    return rows


def test_the_table_lists_the_modules_scripts_use():
    modules = {module for module, _ in provided()}
    assert {"sagemaker_xgboost_container.encoder", "sagemaker_training.environment", "sagemaker_inference.decoder",
            "sagemaker_containers.beta.framework"} <= modules
    assert len(modules) >= 25


@pytest.mark.parametrize("module, names", provided(), ids=[m for m, _ in provided()])
def test_every_provided_module_has_the_names_listed(module, names):
    imported = importlib.import_module(module)
    assert names, module
    missing = [name for name in names if not hasattr(imported, name)]
    assert missing == []
