"""Control plane: DescribeTrainingJob, ListTrainingJobs and CreateModel at 1 and 16 clients, smlocal
against moto's server mode answering the same requests, alternating in one run."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator

import boto3

from bench import images, load
from bench.common import free_port
from bench.emulator_proc import ROLE, Emulator
from bench.stats import ratio, summary

JOBS = 10


def job_params(name: str) -> dict:
    return dict(TrainingJobName=name, RoleArn=ROLE,
                AlgorithmSpecification={"TrainingImage": images.TRAIN, "TrainingInputMode": "File"},
                OutputDataConfig={"S3OutputPath": "s3://bench/output"},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                StoppingCondition={"MaxRuntimeInSeconds": 3600})


REQUESTS = {
    "DescribeTrainingJob": {"TrainingJobName": "cp-job-0"},
    "ListTrainingJobs": {"MaxResults": JOBS},
    "CreateModel": {"ModelName": load.UNIQUE, "ExecutionRoleArn": ROLE,
                    "PrimaryContainer": {"Image": images.SERVE}},
}


@contextlib.contextmanager
def moto_server(peer_python) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([str(peer_python), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _client(url).list_training_jobs()
                break
            except Exception:  # noqa: BLE001 - not listening yet
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _client(url: str):
    return boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench")


def seed(sm, wait: bool) -> None:
    for i in range(JOBS):
        sm.create_training_job(**job_params(f"cp-job-{i}"))
    while wait and any(sm.describe_training_job(TrainingJobName=f"cp-job-{i}")["TrainingJobStatus"] == "InProgress"
                       for i in range(JOBS)):
        time.sleep(0.2)


def run(emu: Emulator, peer_python, quick: bool) -> dict:
    seconds, rounds = (2.0, 1) if quick else (3.0, 3)
    seed(emu.client(), wait=True)
    results: dict = {"seconds_per_run": seconds, "rounds": rounds, "ops": {}}
    with moto_server(peer_python) as moto_url:
        seed(_client(moto_url), wait=False)
        sides = {"smlocal": emu.url, "moto": moto_url}
        for op, params in REQUESTS.items():
            keys = {"smlocal": emu.keys, "moto": ("bench", "bench")}
            prepared = {side: load.prepare(url, "sagemaker", op, params, keys[side]) for side, url in sides.items()}
            for side, url in sides.items():  # warm-up
                load.measure(url, prepared[side], 1, 0.3)
            for clients in (1, 16):
                runs: dict[str, list[dict]] = {side: [] for side in sides}
                for _ in range(rounds):
                    for side, url in sides.items():
                        runs[side].append(load.measure(url, prepared[side], clients, seconds))
                row = {side: {key: summary([r[key] for r in got]) for key in ("rps", "p50_ms", "p99_ms")}
                       | {"errors": sum(r["errors"] for r in got)} for side, got in runs.items()}
                row["throughput_ratio"] = ratio(row["smlocal"]["rps"]["median"], row["moto"]["rps"]["median"])
                results["ops"].setdefault(op, {})[str(clients)] = row
                print(f"  {op} x{clients}: smlocal {row['smlocal']['rps']['median']:.0f} req/s "
                      f"p99 {row['smlocal']['p99_ms']['median']:.1f} ms, moto {row['moto']['rps']['median']:.0f} "
                      f"req/s, ratio {row['throughput_ratio']:.2f}", flush=True)
    return results
