"""What the busy ListTrainingJobs probe of bench/scale.py waits for; two checkouts alternating.

    python -m bench.busy_tail --before /work/main [--after DIR] [--rounds 2] [--full]

Each round runs the `--quick` scale scenario (50 jobs, 10 endpoints; ``--full`` 500/50) once per
checkout, each in a fresh ``smlocal up`` started in that checkout with bench/inject/smlocal_looplag.py
loaded first. Reported per run: the probe's p50/p99 (client side), and the tail split three ways:

- the gateway's event loop (a 2 ms heartbeat's lateness, split into the loop thread's time on a CPU,
  in the kernel's run queue and blocked, i.e. waiting for the GIL or in a system call; the Python
  stack the loop thread was in while a beat was overdue);
- the server's share of each slow call (ASGI app call to last body byte, same split);
- the probe client's own share (its thread's CPU and run-queue time during the call).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import psutil

from bench import images, scale
from bench.emulator_proc import running
from bench.stats import percentile

ROOT = Path(__file__).resolve().parents[1]
INJECT = ROOT / "bench" / "inject"


def _pct(values: list[float], fraction: float) -> float:
    return percentile(sorted(values), fraction)


def _system_busy() -> float:
    """Seconds of CPU the whole machine spent busy (all cores, /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_by_owner(emulator_pid: int) -> dict[str, float]:
    """CPU seconds so far of the emulator, the Docker daemons, this benchmark and the whole machine."""
    got = {"machine": _system_busy(), "emulator": 0.0, "dockerd": 0.0, "containerd": 0.0,
           "bench": sum(os.times()[:2])}
    for proc in psutil.process_iter(["pid", "name", "cpu_times"]):
        times = proc.info["cpu_times"]
        if times is None:
            continue
        cpu = times.user + times.system
        if proc.info["pid"] == emulator_pid:
            got["emulator"] += cpu
        elif proc.info["name"] in ("dockerd", "containerd"):
            got[proc.info["name"]] += cpu
    return got


def _one(checkout: Path, quick: bool, extra: dict[str, str] | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="busy-tail-") as tmp:
        out = Path(tmp) / "looplag.json"
        env = {"PYTHONPATH": os.pathsep.join([str(checkout), str(INJECT)]), "SMLOCAL_LOOPLAG_OUT": str(out),
               **(extra or {})}
        calls: list[dict] = []
        load0 = os.getloadavg()[0]
        with running(env, cwd=checkout, preamble="import smlocal_looplag; ") as emu:
            s3 = emu.s3()
            s3.create_bucket(Bucket="bench")
            s3.put_object(Bucket="bench", Key="model.tar.gz", Body=images.model_tarball())
            cpu0 = _cpu_by_owner(emu.process.pid)
            result = scale.run(emu, quick, calls)
            cpu1 = _cpu_by_owner(emu.process.pid)
        load1 = os.getloadavg()[0]
        lag = json.loads(out.read_text())
    lat = result["busy_list_latency_ms"]
    summary: dict = {"p50": lat["p50"], "p99": lat["p99"], "max": lat["max"], "samples": lat["samples"],
                     "load_avg": [load0, load1], "completed": result["completed"], "in_service": result["in_service"],
                     "invoked_ok": result["invoked_ok"], "containers_leaked": result["containers_leaked"],
                     "jobs_drained_s": result["jobs_drained_s"],
                     "cpu_s": {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0}}
    beats = [b * 1000 for b in lag["beats"]]
    summary["loop_beat_late_ms"] = {"p50": _pct(beats, 0.5), "p99": _pct(beats, 0.99), "max": max(beats),
                                    "n": len(beats)}
    late = lag["late"]
    summary["late_beats_ge5ms"] = {"n": len(late), **{k: sum(b[k] for b in late) for k in
                                                     ("late_ms", "cpu_ms", "runqueue_ms", "blocked_ms")}}
    summary["overdue_stacks"] = lag["overdue_stacks"][:12]
    # the slowest 2 % of client calls: client share, server share, and the rest (loop before the app
    # was called, sockets)
    slow = sorted(calls, key=lambda c: c["ms"])[-max(1, len(calls) // 50):]
    server = sorted(lag["requests"], key=lambda r: r["t"])
    split = collections.Counter()
    for call in slow:
        match = [r for r in server if call["t"] <= r["t"] <= call["t"] + call["ms"] / 1000]
        srv = match[0] if match else None
        split["client_ms"] += call["ms"]
        split["client_cpu_ms"] += call["cpu_ms"]
        split["client_runqueue_ms"] += call["runqueue_ms"]
        if srv:
            split["server_app_ms"] += srv["ms"]
            split["server_cpu_ms"] += srv["cpu_ms"]
            split["server_runqueue_ms"] += srv["runqueue_ms"]
            split["server_blocked_ms"] += srv["blocked_ms"]
    summary["slowest_2pct"] = {"n": len(slow), **{k: v / len(slow) for k, v in split.items()}}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--only", default=None, help="comma-separated arms to run (default: all)")
    parser.add_argument("--slice-us", type=int, default=0,
                        help="also run an arm 'after+slice': the after checkout with its loop thread's EEVDF slice "
                             "set to this many microseconds by the injected probe")
    args = parser.parse_args()
    images.build_all()
    arms: dict[str, tuple[Path, dict[str, str]]] = {"before": (args.before, {}), "after": (args.after, {})}
    if args.slice_us:
        arms["after+slice"] = (args.after, {"SMLOCAL_LOOPLAG_SLICE_US": str(args.slice_us)})
    if args.only:
        arms = {k: v for k, v in arms.items() if k in args.only.split(",")}
    runs: dict[str, list[dict]] = {side: [] for side in arms}
    for n in range(args.rounds):
        for side, (checkout, extra) in arms.items():
            t = time.time()
            with contextlib.suppress(KeyboardInterrupt):
                got = _one(checkout.resolve(), not args.full, extra)
            got["wall_s"] = time.time() - t
            runs[side].append(got)
            print(json.dumps({"round": n, "side": side, **got}), flush=True)
    for side, got in runs.items():
        if got:
            print(side, "p50", [round(g["p50"], 1) for g in got], "p99", [round(g["p99"], 1) for g in got],
                  "loop beat p99", [round(g["loop_beat_late_ms"]["p99"], 1) for g in got],
                  "load", [round(g["load_avg"][0], 1) for g in got], flush=True)


if __name__ == "__main__":
    main()
