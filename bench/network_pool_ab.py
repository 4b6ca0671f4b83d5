"""No-op training job overhead with the job-network pool on and off, alternating in one run.

    python -m bench.network_pool_ab [--rounds 12] [--before DIR]

Two ``smlocal up`` of this checkout side by side, one with ``SMLOCAL_JOB_NETWORK_SPARES=2`` (spares
ready: ``emulator/jobs/network_pool.py``) and one with ``0`` (each job creates its network, as
before the pool). Each round: ``docker run`` of the bench's no-op image, then one boto3 no-op job
(``bench.training.boto3_job``: create, Describe every 10 ms until Completed) on each side, the order
alternating; each job starts after the previous one's cleanup (its container and network gone, the
pool refilled). Reported: medians, the median of the rounds' paired differences, the added time over
``docker run``, CPU of each ``smlocal up`` per job (``psutil``, including the Describe polls) and the
load average. ``--before DIR``: the other side is another checkout's ``smlocal up`` (started in DIR,
``PYTHONPATH`` at it) with the pool on too, to compare two versions of the pool. Not part of
``python -m bench``: it compares a setting, ``bench/training.py`` measures smlocal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time
from pathlib import Path

import docker
import psutil

from bench import images
from bench.emulator_proc import Emulator, running
from bench.stats import summary
from bench.training import boto3_job, docker_run
from emulator.jobs.network_pool import POOL_LABEL


def _settled(client: docker.DockerClient, emu: Emulator, name: str, spares: int, timeout: float = 60) -> None:
    """The job's container and network are gone and the pool (if any) holds its spares again."""
    deadline = time.monotonic() + timeout
    home = str(emu.info.data_dir)
    while time.monotonic() < deadline:
        busy = client.containers.list(all=True, sparse=True, filters={"label": f"org.smlocal.job={name}"})
        own = client.networks.list(filters={"label": f"org.smlocal.job={name}"})
        pool = client.networks.list(filters={"label": f"{POOL_LABEL}={home}"})
        if not busy and not own and len(pool) == spares:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name}: cleanup did not settle")


def _cpu(emu: Emulator) -> float:
    times = psutil.Process(emu.process.pid).cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--before", type=Path, help="another checkout, run with the pool on as the second side")
    args = parser.parse_args()
    images.build_all()
    client = docker.from_env()
    if args.before:
        where = args.before.resolve()
        sides = {"pool": ({"SMLOCAL_JOB_NETWORK_SPARES": "2"}, None),
                 "before": ({"SMLOCAL_JOB_NETWORK_SPARES": "2", "PYTHONPATH": str(where)}, where)}
        spares = {"pool": 2, "before": 2}
    else:
        sides = {"pool": ({"SMLOCAL_JOB_NETWORK_SPARES": "2"}, None),
                 "no_pool": ({"SMLOCAL_JOB_NETWORK_SPARES": "0"}, None)}
        spares = {"pool": 2, "no_pool": 0}
    other = list(sides)[1]
    load = [os.getloadavg()[0]]
    with contextlib.ExitStack() as stack:
        emus = {side: stack.enter_context(running(env, cwd=cwd)) for side, (env, cwd) in sides.items()}
        for side, emu in emus.items():            # warm: images, S3 bucket, the pool's first spares
            emu.s3().create_bucket(Bucket="bench")
            for i in range(2):
                boto3_job(emu.client(), f"warm-{side.replace('_', '-')}-{i}", [])
                _settled(client, emu, f"warm-{side.replace('_', '-')}-{i}", spares[side])
        docker_run(client)
        base: list[float] = []
        took: dict[str, list[float]] = {side: [] for side in sides}
        cpu: dict[str, list[float]] = {side: [] for side in sides}
        for i in range(args.rounds):
            base.append(docker_run(client))
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            for side in order:
                emu, name = emus[side], f"ab-{side.replace('_', '-')}-{i}"
                before = _cpu(emu)
                took[side].append(boto3_job(emu.client(), name, []))
                _settled(client, emu, name, spares[side])
                cpu[side].append(_cpu(emu) - before)
            load.append(os.getloadavg()[0])
    result: dict = {"rounds": args.rounds, "load_average": [round(v, 1) for v in (min(load), max(load))],
                    "docker_run": summary(base)}
    for side in sides:
        result[side] = summary(took[side])
        result[side]["added_s"] = result[side]["median"] - result["docker_run"]["median"]
        result[side]["cpu_per_job_s"] = summary(cpu[side])["median"]
    result[f"pool_minus_{other}_paired_median_s"] = statistics.median(
        a - b for a, b in zip(took["pool"], took[other], strict=True))
    result["rounds_pool_faster"] = sum(a < b for a, b in zip(took["pool"], took[other], strict=True))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
