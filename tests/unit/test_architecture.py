"""The package rules of docs/architecture.md, checked on every import in emulator/ (lazy ones too).

Each layer may import only the layers below it: the wire (``api``) knows no handler, the handlers
know the domain and the runtimes but not the wire, the runtimes (``jobs``, ``hosting``) know the
domain and the infrastructure but no handler and not each other, the domain knows only durable state.
``server`` (the composition root) and ``cli`` may import anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "emulator"

LEAVES = frozenset({"config", "errors", "caller", "images", "instances", "builtin_metrics", "handler_spec",
                    "procs"})
HANDLERS = LEAVES | {"state", "domain", "infra", "hosting"}
ALLOWED: dict[str, frozenset[str]] = {
    **{leaf: LEAVES for leaf in LEAVES},
    "state": LEAVES,
    "s3": LEAVES,
    "infra": LEAVES | {"state", "s3"},
    "domain": LEAVES | {"state"},
    "jobs": LEAVES | {"state", "s3", "infra", "domain"},
    "hosting": LEAVES | {"state", "s3", "infra", "domain"},
    "sagemaker": HANDLERS,
    "logs": HANDLERS,
    "cloudwatch": HANDLERS,
    "identity": HANDLERS,
    "console": LEAVES | {"state", "domain", "infra", "s3"},   # reads records; acts through the handler table
    "api": LEAVES | {"s3"},            # the S3 proxy re-signs with emulator.s3.sse
    "image_builder": LEAVES,
    "coverage": LEAVES | {"server"},   # checks docs/operations.md against the composition root's table
}
ANYTHING = {"server", "cli", "emulator"}


def package(module: str) -> str:
    """emulator.jobs.kinds -> jobs; emulator.config -> config; emulator -> emulator."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def imports() -> list[tuple[str, str, str]]:
    """(importing package, imported package, where) for every emulator import in emulator/."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        source = package(module)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] if node.module != "emulator" else [
                    f"emulator.{a.name}" for a in node.names        # a submodule (not __version__, a leaf)
                    if (ROOT / a.name).is_dir() or (ROOT / f"{a.name}.py").exists()]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                if name.startswith("emulator.") and package(name) != source:
                    found.append((source, package(name), f"{path.relative_to(ROOT.parent)}:{node.lineno}"))
    return found


def violations(edges: list[tuple[str, str, str]]) -> list[str]:
    bad = []
    for source, target, where in edges:
        if source in ANYTHING:
            continue
        allowed = ALLOWED.get(source)
        if allowed is None:
            bad.append(f"{where}: package {source!r} has no rule in tests/unit/test_architecture.py "
                       "(add it there and in docs/architecture.md)")
        elif target not in allowed:
            bad.append(f"{where}: {source} must not import {target}")
    return bad


def test_every_import_follows_the_package_rules() -> None:
    found = imports()
    assert len(found) > 100   # the walk saw the code base
    assert violations(found) == []


def test_every_package_has_a_rule() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    assert (packages | modules) - ANYTHING <= set(ALLOWED)


@pytest.mark.parametrize("edge", [("jobs", "sagemaker"), ("jobs", "hosting"), ("hosting", "jobs"),
                                  ("domain", "jobs"), ("domain", "infra"), ("api", "domain"),
                                  ("infra", "domain"), ("sagemaker", "jobs"), ("sagemaker", "api")])
def test_the_rules_refuse_imports_that_go_up_or_sideways(edge: tuple[str, str]) -> None:
    assert violations([(*edge, "emulator/x.py:1")]) == [f"emulator/x.py:1: {edge[0]} must not import {edge[1]}"]


def test_no_cycles_among_the_layers() -> None:
    graph: dict[str, set[str]] = {}
    for source, target, _ in imports():
        if source not in ANYTHING:
            graph.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [p for p in graph if reaches(p, p, {p})] == []
