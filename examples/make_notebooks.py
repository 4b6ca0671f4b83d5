"""Generate each example's notebooks (pipeline.ipynb, pipeline_v3.ipynb) from its scripts (pipeline.py for
SageMaker Python SDK 2, pipeline_v3.py for SDK 3).

The scripts are the source of truth. They are split into cells on lines starting with `# %%`
(the "percent" format VS Code, Spyder and Jupytext understand); `# %% [markdown]` starts a
Markdown cell whose lines are comments. The notebooks are nbformat 4.5 JSON, written directly so
nothing beyond the standard library is needed.

    python examples/make_notebooks.py          # rewrite the notebooks
    python examples/make_notebooks.py --check  # exit 1 if a notebook is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def scripts() -> list[Path]:
    return sorted([*EXAMPLES.glob("*/pipeline.py"), *EXAMPLES.glob("*/pipeline_v3.py")])


def cells(script: str) -> list[tuple[str, list[str]]]:
    """(kind, lines) for each cell, with the blank lines around a cell dropped."""
    found: list[tuple[str, list[str]]] = []
    for line in script.splitlines():
        if line.startswith("# %%"):
            found.append(("markdown" if "[markdown]" in line else "code", []))
        elif not found:
            raise ValueError("a script must start with a `# %%` cell marker")
        else:
            found[-1][1].append(line)
    result = []
    for kind, lines in found:
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if kind == "markdown":
            if any(line and not line.startswith("#") for line in lines):
                raise ValueError(f"a markdown cell holds a line that is not a comment: {lines}")
            lines = [line[2:] if line.startswith("# ") else line[1:] for line in lines]
        if lines:
            result.append((kind, lines))
    return result


def notebook(script: str) -> str:
    nb_cells = []
    for number, (kind, lines) in enumerate(cells(script), start=1):
        source = [line + "\n" for line in lines[:-1]] + lines[-1:]
        cell = {"cell_type": kind, "id": f"cell-{number}", "metadata": {}, "source": source}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        nb_cells.append(cell)
    document = {"cells": nb_cells,
                "metadata": {"kernelspec": KERNEL, "language_info": {"name": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks that are out of date")
    args = parser.parse_args()
    stale = []
    for script in scripts():
        target = script.with_suffix(".ipynb")
        text = notebook(script.read_text())
        if target.exists() and target.read_text() == text:
            continue
        stale.append(target)
        if not args.check:
            target.write_text(text)
    for target in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {target.relative_to(EXAMPLES.parent)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
