"""Training job overhead: a no-op job through boto3 against `docker run` of the same container, and the
SDK's `fit()` against SDK local mode running the same image."""

from __future__ import annotations

import time

import docker

from bench import images
from bench.emulator_proc import ROLE, Emulator
from bench.peer_run import local_mode_leftovers, sdk
from bench.stats import summary


def docker_run(client: docker.DockerClient) -> float:
    started = time.perf_counter()
    client.containers.run(images.TRAIN, "train", remove=True)
    return time.perf_counter() - started


def boto3_job(sm, name: str, channel: list[dict]) -> float:
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": images.TRAIN, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bench/output"}, **({"InputDataConfig": channel} if channel else {}),
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})
    while True:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] != "InProgress":
            elapsed = time.perf_counter() - started
            if job["TrainingJobStatus"] != "Completed":
                raise RuntimeError(f"{name}: {job['TrainingJobStatus']}: {job.get('FailureReason')}")
            return elapsed
        time.sleep(0.01)


def run(emu: Emulator, peer_python, quick: bool) -> dict:
    client = docker.from_env()
    sm, s3 = emu.client(), emu.s3()
    runs = 4 if quick else 10
    for i in range(100):
        s3.put_object(Bucket="bench", Key=f"train-input/part-{i:05d}", Body=b"x" * 1024)
    channel = [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": "s3://bench/train-input/"}}}]
    docker_run(client), boto3_job(sm, "bench-warm", [])  # warm caches on both sides
    base, plain, with_data = [], [], []
    for i in range(runs):
        base.append(docker_run(client))
        plain.append(boto3_job(sm, f"bench-noop-{i}", []))
        with_data.append(boto3_job(sm, f"bench-data-{i}", channel))
    result = {"docker_run": summary(base), "boto3_job": summary(plain), "boto3_job_100_objects": summary(with_data),
              "runs": runs}
    result["added_s"] = result["boto3_job"]["median"] - result["docker_run"]["median"]
    result["added_with_data_s"] = result["boto3_job_100_objects"]["median"] - result["docker_run"]["median"]

    rounds, per = (1, 2) if quick else (3, 2)
    fits: dict[str, list[float]] = {"smlocal": [], "local": []}
    since = time.time()
    for _ in range(rounds):
        fits["smlocal"] += sdk(peer_python, ["fit", "--target", "smlocal", "--image", images.TRAIN, "--runs",
                                             str(per), "--output", "s3://bench/sdk-output"], emu.env())["fit"]
        fits["local"] += sdk(peer_python, ["fit", "--target", "local", "--image", images.TRAIN, "--runs",
                                           str(per), "--output", "file:///tmp/smlocal-bench-local-output"])["fit"]
    result["sdk_fit_smlocal"] = summary(fits["smlocal"])
    result["sdk_fit_local_mode"] = summary(fits["local"])
    result["local_mode_containers_left"] = local_mode_leftovers(images.TRAIN, since)
    result["local_mode_fits"] = len(fits["local"]) + rounds
    return result
