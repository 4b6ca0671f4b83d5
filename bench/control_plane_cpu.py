"""Gateway CPU per control-plane request, two checkouts side by side (A/B in one run).

Each checkout is served by its own `smlocal up` (same interpreter, run from the checkout); both get
the same seeded records (10 finished no-op training jobs, or ``--jobs``). Then,
alternating between the two servers, one keep-alive client replays one signed request N times and
the server process's CPU time (user + system, every thread, from ``psutil``) is divided by N. CPU per
request is what decides throughput when clients and server share two busy cores, and unlike latency
it is barely blurred by other load on the machine.

    python -m bench.control_plane_cpu --before /tmp/old-checkout [--requests 2000] [--rounds 3]
    python -m bench.control_plane_cpu --profile DescribeTrainingJob   # py-spy top-down of this checkout

Not part of ``python -m bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from bench import images, load
from bench.control_plane import job_params, seed
from bench.emulator_proc import running

ROOT = Path(__file__).resolve().parents[1]


def _requests(emu, jobs: int) -> dict[str, load.Prepared]:
    ops = {"DescribeTrainingJob": {"TrainingJobName": "cp-job-0"},
           "ListTrainingJobs": {"MaxResults": 10},
           "DescribeModel": {"ModelName": "cp-model"}}
    return {op: load.prepare(emu.url, "sagemaker", op, params, emu.keys) for op, params in ops.items()}


def _replay(url: str, req: load.Prepared, count: int) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    for _ in range(count):
        conn.request(req.method, req.path, req.body, req.headers)
        response = conn.getresponse()
        response.read()
        if response.status >= 300:
            raise RuntimeError(f"{response.status}")
    conn.close()


def cpu_per_request(emu, req: load.Prepared, count: int) -> float:
    """Microseconds of server CPU per request."""
    proc = psutil.Process(emu.process.pid)
    before = proc.cpu_times()
    _replay(emu.url, req, count)
    after = proc.cpu_times()
    return ((after.user - before.user) + (after.system - before.system)) / count * 1e6


def _seed(emu, jobs: int) -> None:
    sm = emu.client()
    import bench.control_plane as cp
    cp.JOBS = jobs
    seed(sm, wait=True)
    sm.create_model(ModelName="cp-model", ExecutionRoleArn=job_params("x")["RoleArn"],
                    PrimaryContainer={"Image": images.SERVE})


def compare(checkouts: dict[str, Path], requests: int, rounds: int, jobs: int) -> dict:
    with contextlib.ExitStack() as stack:
        emus = {label: stack.enter_context(running(cwd=path)) for label, path in checkouts.items()}
        for emu in emus.values():
            _seed(emu, jobs)
        prepared = {label: _requests(emu, jobs) for label, emu in emus.items()}
        result: dict = {"load_at_start": os.getloadavg(), "requests": requests, "rounds": rounds, "ops": {}}
        for op in next(iter(prepared.values())):
            for label, emu in emus.items():   # warm-up
                _replay(emu.url, prepared[label][op], 200)
            got: dict[str, list[float]] = {label: [] for label in emus}
            for _ in range(rounds):
                for label, emu in emus.items():
                    got[label].append(cpu_per_request(emu, prepared[label][op], requests))
            result["ops"][op] = {label: sorted(v) for label, v in got.items()}
            print(op, {label: [round(x) for x in sorted(v)] for label, v in got.items()}, flush=True)
        result["load_at_end"] = os.getloadavg()
        return result


def profile(op: str, requests: int, jobs: int, out: Path) -> None:
    """py-spy (if installed) recording the server while one client replays ``op``."""
    with running(cwd=ROOT) as emu:
        _seed(emu, jobs)
        req = _requests(emu, jobs)[op]
        _replay(emu.url, req, 200)
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(emu.process.pid), "--rate", "1000", "--format",
                                "raw", "--output", str(out), "--nonblocking", "--gil"])
        time.sleep(1.5)
        _replay(emu.url, req, requests)
        spy.send_signal(2)
        spy.wait(60)
        print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="the other checkout (A); B is this one")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--profile", metavar="OPERATION")
    args = parser.parse_args()
    images.build_all()
    if args.profile:
        profile(args.profile, args.requests, args.jobs, Path(tempfile.gettempdir()) / f"{args.profile}.folded")
        return
    checkouts = {"before": args.before.resolve(), "after": ROOT} if args.before else {"this": ROOT}
    print(json.dumps(compare(checkouts, args.requests, args.rounds, args.jobs)))


if __name__ == "__main__":
    sys.exit(main())
