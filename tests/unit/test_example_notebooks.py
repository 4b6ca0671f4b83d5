"""examples/make_notebooks.py: the committed notebooks are generated from the example scripts and
hold the same code, split into cells, with the Markdown comments as Markdown."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", EXAMPLES / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_notebooks = _generator()
SCRIPTS = make_notebooks.scripts()


def test_every_pipeline_has_a_script():
    expected = [f"{name}/{script}" for name in ("images", "text", "timeseries")
                for script in ("pipeline.py", "pipeline_v3.py")]
    assert [f"{p.parent.name}/{p.name}" for p in SCRIPTS] == [*expected, "timeseries_pipeline/pipeline.py"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_committed_notebook_is_in_sync_with_its_script(script):
    notebook = script.with_suffix(".ipynb")
    assert notebook.exists(), "run: python examples/make_notebooks.py"
    assert notebook.read_text() == make_notebooks.notebook(script.read_text()), \
        f"{notebook.name} is out of date: run python examples/make_notebooks.py"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_notebook_holds_the_script_code_and_its_comments_as_markdown(script):
    document = json.loads(script.with_suffix(".ipynb").read_text())
    assert (document["nbformat"], document["nbformat_minor"]) == (4, 5)
    cells = document["cells"]
    assert len({c["id"] for c in cells}) == len(cells)
    code = "".join("".join(c["source"]) + "\n" for c in cells if c["cell_type"] == "code")
    compile(code, script.name, "exec")
    script_code = [line for line in script.read_text().splitlines() if line.strip()
                   and not line.startswith("# %%") and not line.startswith("#")]
    notebook_code = [line for line in code.splitlines() if line.strip() and not line.startswith("#")]
    assert notebook_code == script_code
    markdown = [c for c in cells if c["cell_type"] == "markdown"]
    assert markdown[0]["source"][0].startswith("# ") and not markdown[0]["source"][0].startswith("# #")
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in cells if c["cell_type"] == "code")


def test_cells_split_on_percent_markers_and_uncomment_markdown():
    script = "# %% [markdown]\n# # Title\n#\n# Some *text*.\n\n# %%\nx = 1\n\n# comment\ny = 2\n\n# %%\n\n"
    assert make_notebooks.cells(script) == [("markdown", ["# Title", "", "Some *text*."]),
                                            ("code", ["x = 1", "", "# comment", "y = 2"])]


def test_markdown_cells_must_be_comments_and_scripts_start_with_a_marker():
    with pytest.raises(ValueError, match="not a comment"):
        make_notebooks.cells("# %% [markdown]\n# text\nx = 1\n")
    with pytest.raises(ValueError, match="must start"):
        make_notebooks.cells("import os\n# %%\n")
