"""What smlocal adds to a training job, against `docker run` of the same container.

    python bench/training_overhead.py [--runs 10] [--objects 0]

Both sides run the same no-op image (its `train` exits at once). The baseline is the docker SDK's
`containers.run(image, "train", remove=True)`: create, start, wait, remove. The emulator side is
CreateTrainingJob -> Describe polled every 20 ms -> Completed, which adds config files, the
per-job work directory, log capture, model.tar.gz upload and status bookkeeping. Runs alternate;
medians are reported, with the ratio and the seconds added per job. `--objects N` adds an input
channel of N 1 KiB objects to the job (the baseline reads nothing).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tarfile
import time
from pathlib import Path

import boto3
import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import stack  # noqa: E402

IMAGE = "smlocal-bench/noop:latest"
DOCKERFILE = (b"FROM smlocal/base:bookworm\n"
              b"RUN printf '#!/bin/sh\\nexit 0\\n' > /usr/local/bin/train && chmod 755 /usr/local/bin/train\n")


def build_image(client: docker.DockerClient) -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(DOCKERFILE)
        tar.addfile(info, io.BytesIO(DOCKERFILE))
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=IMAGE, rm=True)


def docker_run(client: docker.DockerClient) -> float:
    started = time.perf_counter()
    client.containers.run(IMAGE, "train", remove=True)
    return time.perf_counter() - started


def emulator_run(sm, name: str, channel: list[dict]) -> float:
    started = time.perf_counter()
    sm.create_training_job(
        TrainingJobName=name, RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bench/output"}, **({"InputDataConfig": channel} if channel else {}),
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})
    while True:
        job = sm.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] != "InProgress":
            elapsed = time.perf_counter() - started
            assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
            return elapsed
        time.sleep(0.02)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--objects", type=int, default=0)
    args = parser.parse_args()
    client = docker.from_env()
    build_image(client)
    with stack() as (url, s3):
        storage = boto3.client("s3", endpoint_url=s3.endpoint, aws_access_key_id=s3.access_key,
                               aws_secret_access_key=s3.secret_key, region_name="us-east-1")
        storage.create_bucket(Bucket="bench")
        for i in range(args.objects):
            storage.put_object(Bucket="bench", Key=f"input/part-{i:05d}", Body=b"x" * 1024)
        channel = [{"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": "s3://bench/input/"}}}] if args.objects else []
        sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="y")
        docker_run(client), emulator_run(sm, "warm-up", channel)  # warm caches on both sides
        baseline, emulated = [], []
        for i in range(args.runs):
            baseline.append(docker_run(client))
            emulated.append(emulator_run(sm, f"bench-{i}", channel))
    base, emu = statistics.median(baseline), statistics.median(emulated)
    print(f"runs: {args.runs}, input objects: {args.objects}")
    print(f"docker run (create+start+wait+remove): median {base:.3f} s  [{min(baseline):.3f}-{max(baseline):.3f}]")
    print(f"smlocal CreateTrainingJob -> Completed: median {emu:.3f} s  [{min(emulated):.3f}-{max(emulated):.3f}]")
    print(f"ratio {emu / base:.2f}x, added {emu - base:+.3f} s per job (target: <= 0.5 s)")


if __name__ == "__main__":
    main()
