"""The benchmark suite: smlocal against what users would pick instead (SDK local mode, moto, plain
docker and boto3), side by side in one run.

    python -m bench                 # everything (several minutes)
    python -m bench --quick         # fewer, shorter runs
    python -m bench --only control_plane,endpoint

Installs the peers (sagemaker[local], moto[server]) into its own venv (--venv), starts smlocal with
`smlocal up` on private ports, and writes docs/benchmarks.json and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from bench import control_plane, endpoint, images, peers, report, scale, staging, training, transform
from bench.emulator_proc import running

ROOT = Path(__file__).resolve().parents[1]
SUITES = ["control_plane", "training", "transform", "endpoint", "staging", "scale"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer and shorter runs, smaller data")
    parser.add_argument("--only", default=",".join(SUITES), help=f"comma-separated subset of {SUITES}")
    parser.add_argument("--venv", type=Path, default=peers.DEFAULT_VENV, help="the peers' virtualenv")
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="where benchmarks.{md,json} go")
    parser.add_argument("--no-fast", action="store_true",
                        help="run smlocal without its `fast` extra (uvloop, httptools), to measure what it buys")
    parser.add_argument("--no-docs", action="store_true", help="print the JSON only; do not write docs")
    args = parser.parse_args()
    chosen = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SUITES)
    if unknown:
        parser.error(f"unknown suites: {sorted(unknown)}")

    peer_python = peers.ensure_venv(args.venv)
    if peers.compose_command() is None:
        print("SDK local mode needs docker compose or docker-compose (apt-get install docker-compose)",
              file=sys.stderr)
        return 2
    images.build_all()
    fast = None if args.no_fast else peers.fast_extras(args.venv)
    emulator_env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(fast or ""), os.environ.get("PYTHONPATH")]))}
    if args.no_fast and peers.fast_extras_installed():
        parser.error("--no-fast: this interpreter has uvloop and httptools installed, uvicorn would use them")
    started = time.time()
    results: dict = {
        "command": "python -m bench" + (" --quick" if args.quick else "")
                   + (f" --only {args.only}" if set(chosen) != set(SUITES) else "")
                   + (" --no-fast" if args.no_fast else ""),
        "argv": shlex.join(sys.argv),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": peers.machine(), "versions": peers.versions(peer_python, fast), "quick": args.quick, "suites": {},
    }
    with running(emulator_env) as emu:
        s3 = emu.s3()
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="model.tar.gz", Body=images.model_tarball())
        runners = {"control_plane": lambda: control_plane.run(emu, peer_python, args.quick),
                   "training": lambda: training.run(emu, peer_python, args.quick),
                   "transform": lambda: transform.run(emu, args.quick),
                   "endpoint": lambda: endpoint.run(emu, peer_python, args.quick),
                   "staging": lambda: staging.run(emu, args.quick),
                   "scale": lambda: scale.run(emu, args.quick)}
        for suite in SUITES:
            if suite in chosen:
                print(f"== {suite}", flush=True)
                t = time.time()
                results["suites"][suite] = runners[suite]()
                results["suites"][suite]["wall_s"] = time.time() - t
                results["suites"][suite]["started"] = datetime.fromtimestamp(t, timezone.utc).isoformat(
                    timespec="seconds")
    results["wall_s"] = time.time() - started
    results["machine"]["load_at_end"] = peers.machine()["load_at_start"]
    text = json.dumps(results, indent=1, default=str)
    if args.no_docs:
        print(text)
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    previous = args.out / "benchmarks.json"
    if set(chosen) != set(SUITES) and previous.exists():   # a partial run updates its suites only
        merged = json.loads(previous.read_text())
        merged.setdefault("partial_runs", []).append(
            {k: results[k] for k in ("command", "started", "wall_s", "versions", "machine")})
        merged["suites"].update(results["suites"])
        results = merged
        text = json.dumps(results, indent=1, default=str)
    previous.write_text(text + "\n")
    (args.out / "benchmarks.md").write_text(report.render(results))
    print(f"wrote {args.out / 'benchmarks.md'} and benchmarks.json ({time.time() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
