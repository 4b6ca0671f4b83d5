"""The SageMaker Python SDK 3 ring: ``tests/e2e_sdk3/`` run by pytest in its own venv (``.venv-sdk3``,
``scripts/lib/venv.sh: ensure_sdk3_venv``; SDK 3 and SDK 2 are both the ``sagemaker`` package and cannot
share one), against this session's live emulator, with only what ``eval "$(smlocal env)"`` exports.

One emulator serves both SDKs: the ring is pytest run here with ``smlocal_env``, as two subprocesses at
once (``SHARDS``): most of each test's time is waiting for containers and the SDK's waiters, and every
ring test works on its own uniquely named resources, so the halves do not see each other's (run one after
the other they took about 5.5 minutes). Each of its tests is reported here as its own test (parametrized
by the v3 test ids, read from the files), with the v3 run's failure text, so ``./scripts/test`` fails on
any v3 failure and names it."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = [pytest.mark.docker, pytest.mark.sdk3]
ROOT = Path(__file__).resolve().parents[2]
RING = ROOT / "tests" / "e2e_sdk3"
RING_TIMEOUT = 1500  # the v3 run (about 6 minutes on 2 cores) plus a first venv install (3-4 minutes)
# The ring's files in two pytest processes run at the same time, balanced by their serial times (the SDK 3
# examples, started when their process starts, overlap the model-builder flows); a file not named goes
# to the second.
SHARDS = (("test_examples_v3.py", "test_model_builder.py", "test_resources.py", "test_session.py"), ())


def v3_test_ids() -> list[str]:
    """``test_train.py::test_x`` for every test function in the ring's files (no import: this venv has
    SDK 2)."""
    ids = []
    for path in sorted(RING.glob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                ids.append(f"{path.name}::{node.name}")
    return ids


def sdk3_python() -> Path:
    """The ring's venv, installed (or reused: a hash of its pins is stored in it) by the project's script."""
    started = time.monotonic()
    done = subprocess.run(["bash", "-c", 'source scripts/lib/venv.sh && ensure_sdk3_venv >&2 && echo "$SDK3_VENV"'],
                          cwd=ROOT, capture_output=True, text=True, timeout=RING_TIMEOUT)
    assert done.returncode == 0, f"ensure_sdk3_venv failed:\n{done.stderr[-4000:]}"
    print(f"SDK 3 venv ready in {time.monotonic() - started:.0f} s")
    return Path(done.stdout.strip().splitlines()[-1]) / "bin" / "python"


def _outcomes(junit: Path) -> dict[str, tuple[str, str]]:
    """test id -> (passed | failed | error | skipped, text) from the v3 run's JUnit XML."""
    found: dict[str, tuple[str, str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '').rsplit('.', 1)[-1]}.py::{case.get('name')}"
        outcome, text = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "failed" if child.tag == "failure" else child.tag
                text += f"{child.get('message', '')}\n{child.text or ''}\n"
        if outcome == "passed" or test_id not in found:  # an error in teardown follows the call's result
            found[test_id] = (outcome, text)
        elif found[test_id][0] == "passed":
            found[test_id] = (outcome, text)
    return found


def v3_params() -> list:
    """The ids, the examples' marked ``examples`` (so ``-m "not examples"`` skips them here too)."""
    return [pytest.param(i, marks=pytest.mark.examples) if i.startswith("test_examples_v3.py::") else i
            for i in v3_test_ids()]


def shards(selected: list[str]) -> list[list[str]]:
    """The selected ids split by ``SHARDS`` (by file); empty shards dropped."""
    split: list[list[str]] = [[] for _ in SHARDS]
    for test_id in selected:
        index = next((i for i, files in enumerate(SHARDS) if test_id.split("::")[0] in files), len(SHARDS) - 1)
        split[index].append(test_id)
    return [shard for shard in split if shard]


def selected_v3_ids(session) -> list[str]:
    return [item.callspec.params["test_id"] for item in session.items
            if item.originalname == "test_sdk3" and hasattr(item, "callspec")]


@pytest.fixture(scope="module")
def ring(request, smlocal_env, framework_image, train_image, serve_image, tmp_path_factory):
    """Runs the selected v3 tests (all of them in a full run) in the ``SHARDS`` pytest processes at once."""
    selected = selected_v3_ids(request.session) or v3_test_ids()
    python = sdk3_python()
    for name in ("sklearn", "xgboost", "pytorch"):
        framework_image(name)
    out = tmp_path_factory.mktemp("sdk3")
    env = {**smlocal_env, "SMLOCAL_TEST_TRAIN_IMAGE": train_image, "SMLOCAL_TEST_SERVE_IMAGE": serve_image,
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("SAGEMAKER_SUPPRESS_V2_WARNING", None)
    started = time.monotonic()
    runs = []
    for index, shard in enumerate(shards(selected)):
        junit, log, basetemp = out / f"junit-{index}.xml", out / f"pytest-{index}.log", out / f"tmp-{index}"
        command = [str(python), "-m", "pytest", "-c", str(RING / "pytest.ini"), "--rootdir", str(RING),
                   "-p", "no:cacheprovider", "-ra", "--durations=10", f"--junitxml={junit}", f"--basetemp={basetemp}",
                   *[str(RING / test_id) for test_id in shard]]
        with log.open("w") as output:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        runs.append((process, junit, log))
    codes = []
    for process, _, _ in runs:
        try:
            codes.append(process.wait(timeout=max(1.0, RING_TIMEOUT - (time.monotonic() - started))))
        except subprocess.TimeoutExpired:
            for other, _, _ in runs:
                other.kill()
                other.wait()
            raise
    code = next((c for c in codes if c != 0), 0)
    outcomes: dict[str, tuple[str, str]] = {}
    printed = ""
    for (_, junit, log), shard_code in zip(runs, codes, strict=True):
        text = log.read_text()
        printed += f"--- {log.name} (exit {shard_code})\n{text[-3000:]}\n"
        assert junit.exists(), f"the v3 pytest run wrote no report (exit {shard_code}):\n{text[-6000:]}"
        outcomes.update(_outcomes(junit))
    sys.stdout.write(printed)
    print(f"SDK 3 ring ran in {time.monotonic() - started:.0f} s (exits {codes})")
    return code, outcomes, printed, selected


@pytest.mark.timeout(RING_TIMEOUT + 600)
@pytest.mark.parametrize("test_id", v3_params())
def test_sdk3(test_id, ring):
    code, outcomes, printed, _ = ring
    assert test_id in outcomes, f"{test_id} did not run in the v3 ring (exit {code}):\n{printed[-6000:]}"
    outcome, text = outcomes[test_id]
    assert outcome == "passed", f"{test_id} {outcome} under SDK 3:\n{text[-8000:]}"


@pytest.mark.timeout(RING_TIMEOUT + 600)
def test_sdk3_ring_exits_cleanly(ring):
    """Collection errors and session-level failures are not tied to one test id."""
    code, outcomes, printed, selected = ring
    assert code == 0, f"the v3 pytest run exited {code}:\n{printed[-6000:]}"
    assert sorted(outcomes) == sorted(selected), sorted(outcomes)


def test_the_ring_lists_its_tests():
    assert len(v3_test_ids()) >= 5 and os.path.isfile(RING / "pytest.ini")
