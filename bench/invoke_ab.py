"""InvokeEndpoint through two checkouts' gateways and directly, alternating in one run.

    python -m bench.invoke_ab --before DIR [--after DIR] [--seconds 3] [--rounds 3]

Each checkout runs in its own ``smlocal up`` (started in the checkout, ``PYTHONPATH`` at it) with one endpoint of the
bench's serving image; the same 1 KiB request (botocore-signed once) is replayed by 1 and 16
closed-loop client processes against the container's published port ("direct") and each gateway,
in turn, ``--rounds`` times. Reported per side: req/s, p50, gateway CPU per request (``getrusage``
of the serving process over the run divided by requests), throughput and p50 against direct.
``--profile SECONDS`` then records each gateway with ``py-spy`` (when installed) under 16
clients. Not part of ``python -m bench``: it compares code, ``bench/endpoint.py`` measures smlocal.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import docker
import psutil

from bench import images, load
from bench.emulator_proc import Emulator, running
from bench.endpoint import LABEL, create_model
from bench.stats import summary

ROOT = Path(__file__).resolve().parents[1]


def _endpoint(emu: Emulator, name: str) -> int:
    sm = emu.client()
    with contextlib.suppress(Exception):
        emu.s3().create_bucket(Bucket="bench")
    emu.s3().put_object(Bucket="bench", Key="model.tar.gz", Body=images.model_tarball())
    create_model(sm, name)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while (status := sm.describe_endpoint(EndpointName=name)["EndpointStatus"]) == "Creating":
        time.sleep(0.05)
    if status != "InService":
        raise RuntimeError(f"{name}: {status}")
    container = docker.from_env().containers.list(filters={"label": f"{LABEL}={name}"})[0]
    return int(container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])


def _cpu(pid: int) -> float:
    return float(sum(psutil.Process(pid).cpu_times()[:2]))


def _system(pid: int) -> float:
    return float(psutil.Process(pid).cpu_times()[1])


def _idle_cpu(pid: int, seconds: float = 3.0) -> float:
    before = _cpu(pid)
    time.sleep(seconds)
    return round((_cpu(pid) - before) / seconds * 1000, 1)


def _top(path: Path, count: int = 12) -> dict[str, float]:
    """Share of samples per function (anywhere on the stack), the busiest first."""
    total, seen_in = 0, collections.Counter()
    for line in path.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        total += int(samples)
        for name in {frame.split(" (")[0] for frame in stack.split(";")}:
            seen_in[name] += int(samples)
    return {name: round(n / max(total, 1), 3) for name, n in seen_in.most_common(count + 15)
            if n / max(total, 1) < 0.7}


def _profile(gateways: dict, seconds: float) -> None:
    for side, (emu, req) in gateways.items():
        out = Path(f"/tmp/invoke_ab_profile_{side}.txt")
        spy = subprocess.Popen(["py-spy", "record", "--format", "raw", "-o", str(out), "--pid",
                                str(emu.process.pid), "--duration", str(int(seconds)), "--rate", "200",
                                "--gil"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load.measure(emu.url, req, 16, seconds)
        spy.wait()
        print(f"py-spy profile of {side} (collapsed stacks): {out}; summary: {_top(out)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=ROOT)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", default="1,16")
    parser.add_argument("--profile", type=float, default=0.0)
    args = parser.parse_args()
    body = b"x" * 1024
    with contextlib.ExitStack() as stack:
        gateways: dict[str, tuple[Emulator, load.Prepared]] = {}
        port = 0
        for side, checkout in (("before", args.before), ("after", args.after)):
            emu = stack.enter_context(running({"PYTHONPATH": str(checkout.resolve())}, cwd=checkout.resolve()))
            port = _endpoint(emu, f"ab-{side}")
            gateways[side] = (emu, load.prepare(emu.url, "sagemaker-runtime", "InvokeEndpoint", {
                "EndpointName": f"ab-{side}", "Body": body, "ContentType": "application/octet-stream",
                "Accept": "application/octet-stream"}, emu.keys))
        direct = load.Prepared("POST", "/invocations", {
            "Content-Type": "application/octet-stream", "Accept": "application/octet-stream",
            "Content-Length": str(len(body))}, body)
        sides = {"direct": (f"http://127.0.0.1:{port}", direct, None)}
        sides |= {side: (emu.url, req, emu.process.pid) for side, (emu, req) in gateways.items()}
        for url, req, _ in sides.values():
            load.measure(url, req, 1, 0.5)
        report: dict = {"load_average_start": os.getloadavg(), "idle_cpu_ms_per_s": {}}
        for side, (emu, _) in gateways.items():        # background threads (log flushers, watchdogs)
            report["idle_cpu_ms_per_s"][side] = _idle_cpu(emu.process.pid)
        print(f"idle gateway CPU (ms per s): {report['idle_cpu_ms_per_s']}", flush=True)
        for clients in (int(c) for c in args.clients.split(",")):
            runs: dict[str, list[dict]] = {side: [] for side in sides}
            for _ in range(args.rounds):
                for side, (url, req, pid) in sides.items():
                    before, system = (_cpu(pid), _system(pid)) if pid else (0.0, 0.0)
                    got = load.measure(url, req, clients, args.seconds)
                    if pid:
                        got["cpu_us"] = (_cpu(pid) - before) / max(got["requests"], 1) * 1e6
                        got["sys_us"] = (_system(pid) - system) / max(got["requests"], 1) * 1e6
                    runs[side].append(got)
            row: dict = {}
            for side, got in runs.items():
                row[side] = {key: summary([r[key] for r in got])["median"] for key in ("rps", "p50_ms", "p99_ms")}
                row[side]["errors"] = sum(r["errors"] for r in got)
                if side != "direct":
                    row[side]["cpu_us_per_request"] = [round(r["cpu_us"]) for r in got]
                    row[side]["of_which_kernel_us"] = [round(r["sys_us"]) for r in got]
                    row[side]["vs_direct"] = row[side]["rps"] / row["direct"]["rps"]
                    row[side]["p50_added_ms"] = row[side]["p50_ms"] - row["direct"]["p50_ms"]
            report[str(clients)] = row
            for side, values in row.items():
                extra = "" if side == "direct" else (
                    f" {values['vs_direct']:.0%} of direct, p50 {values['p50_added_ms']:+.3f} ms, cpu/req "
                    f"{values['cpu_us_per_request']} us (kernel {values['of_which_kernel_us']})")
                print(f"x{clients} {side:6s}: {values['rps']:.0f} req/s, p50 {values['p50_ms']:.3f} ms, "
                      f"errors {values['errors']}{extra}", flush=True)
        report["load_average_end"] = os.getloadavg()
        if args.profile and shutil.which("py-spy"):
            _profile(gateways, args.profile)
        print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()
