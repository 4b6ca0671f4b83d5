"""Where a no-op training job's time goes, on the code as it stands (issue 19's +0.15 s target).

One `smlocal up` runs with bench/inject/smlocal_calltrace.py, which records every HTTP call the
process makes through urllib3: its Docker engine calls and its S3 calls. The harness traces its own
`docker run` (docker SDK ``containers.run``, as the training suite times it) the same way. Then
``--jobs`` rounds, one after the other: `docker run` of the no-op image, then a boto3
CreateTrainingJob of the same image with DescribeTrainingJob every 10 ms until Completed, as
bench/training.py does. For each job the server's calls inside its window are put on one time line;
medians over the rounds are printed per step, beside `docker run`'s own calls.

    python -m bench.noop_timeline [--jobs 10]

Not part of ``python -m bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import docker

from bench import images
from bench.emulator_proc import running
from bench.training import boto3_job, docker_run

INJECT = Path(__file__).resolve().parent / "inject"


def _route(call: dict) -> str:
    """A short name for a call: Docker's route with ids elided, or S3 with its method."""
    path = call["path"]
    if not call["host"].startswith("localhost"):
        return f"S3 {call['method']}"
    parts = [p for p in path.split("/") if p]
    if parts and parts[0].startswith("v1."):
        parts = parts[1:]
    if len(parts) >= 2 and parts[0] in ("containers", "networks", "images") and parts[1] not in ("create", "json"):
        parts[1] = "{id}"
    return f"{call['method']} /{'/'.join(parts)}"


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _steps(calls: list[dict], t0: float, t1: float) -> list[tuple[str, float, float]]:
    """(route, start offset ms, duration ms) of the calls that started in [t0, t1]."""
    return [(_route(c), (c["t"] - t0) * 1000, c["d"] * 1000) for c in sorted(calls, key=lambda c: c["t"])
            if t0 <= c["t"] <= t1]


def _timed(measure, *args) -> tuple[float, float]:
    """(wall-clock start, end) of one bench.training measurement (which times itself with perf_counter)."""
    started = time.time()
    return started, started + measure(*args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    images.build_all()
    with tempfile.TemporaryDirectory(prefix="noop-timeline-") as tmp:
        server_out, harness_out = Path(tmp) / "server.jsonl", Path(tmp) / "harness.jsonl"
        os.environ["SMLOCAL_CALLTRACE_OUT"] = str(harness_out)   # the harness's own calls (docker run)
        sys.path.insert(0, str(INJECT))
        import smlocal_calltrace  # type: ignore[import-not-found]  # noqa: F401

        env = {"PYTHONPATH": str(INJECT), "SMLOCAL_CALLTRACE_OUT": str(server_out)}
        client = docker.from_env()
        windows: list[tuple[float, float]] = []
        runs: list[tuple[float, float]] = []
        with running(env, preamble="import smlocal_calltrace; ") as emu:
            sm = emu.client()
            emu.s3().create_bucket(Bucket="bench")
            docker_run(client), boto3_job(sm, "timeline-warm", [])
            for index in range(args.jobs):
                time.sleep(1.0)                      # the previous job's cleanup and the pool's refill
                runs.append(_timed(docker_run, client))
                time.sleep(0.5)
                windows.append(_timed(boto3_job, sm, f"timeline-{index}", []))
            load = os.getloadavg()
        server, harness = _read(server_out), _read(harness_out)
    report(server, harness, windows, runs, load)


def report(server: list[dict], harness: list[dict], windows: list[tuple[float, float]],
           runs: list[tuple[float, float]], load: tuple[float, float, float]) -> None:
    def per_route(calls: list[dict], spans: list[tuple[float, float]]) -> dict[str, list[float]]:
        got: dict[str, list[float]] = defaultdict(list)
        for t0, t1 in spans:
            seen: dict[str, float] = defaultdict(float)
            for route, _, ms in _steps(calls, t0, t1):
                seen[route] += ms
            for route, ms in seen.items():
                got[route].append(ms)
        return got

    total = [1000 * (t1 - t0) for t0, t1 in windows]
    base = [1000 * (t1 - t0) for t0, t1 in runs]
    print(f"load average at the end {load[0]:.1f}; {len(windows)} rounds")
    added = statistics.median(total) - statistics.median(base)
    print(f"docker run: median {statistics.median(base):.0f} ms; smlocal create -> Completed seen: "
          f"median {statistics.median(total):.0f} ms (added {added:+.0f} ms)")
    print("\n`docker run`'s calls (ms, median per round):")
    for route, values in sorted(per_route(harness, runs).items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {statistics.median(values):8.1f}  {route}")
    print("\nsmlocal's calls inside the job's window (ms, median per round):")
    for route, values in sorted(per_route(server, windows).items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {statistics.median(values):8.1f}  {route}  (in {len(values)} of {len(windows)} rounds)")
    index = sorted(range(len(total)), key=lambda i: total[i])[len(total) // 2]
    t0, t1 = windows[index]
    print(f"\nthe median round's time line (ms from CreateTrainingJob; Completed seen at {1000 * (t1 - t0):.0f}):")
    for route, start, ms in _steps(server, t0, t1):
        print(f"  {start:8.1f} +{ms:7.1f}  {route}")


if __name__ == "__main__":
    main()
