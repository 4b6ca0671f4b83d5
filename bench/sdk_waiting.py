"""How long unmodified SageMaker SDK calls take for short jobs, with smlocal's hold on the SDK's first
Describe (emulator/sagemaker/sdk_wait.py) on (the default, 60 s) and off (SMLOCAL_SDK_DESCRIBE_WAIT=0),
in one run. Jobs just sleep N seconds, so "SDK overhead" = end-to-end time minus N.

    python bench/sdk_waiting.py [--durations 1 12 40]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import docker
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import stack

IMAGE = "smlocal-bench/sleep:latest"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
FILES = {
    "Dockerfile": b"FROM smlocal/base:bookworm\nCOPY train /usr/local/bin/train\nRUN chmod 755 /usr/local/bin/train\n",
    "train": b"#!/usr/bin/python3\nimport json, time\n"
             b"time.sleep(float(json.load(open('/opt/ml/input/config/hyperparameters.json'))['seconds']))\n",
}


def build_image() -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    docker.from_env().images.build(fileobj=context, custom_context=True, tag=IMAGE, rm=True)


def point_sdk_at(url: str, s3, tmp: Path) -> None:
    config = tmp / "sdk.yaml"
    config.write_text(yaml.safe_dump({"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {
        "TelemetryOptOut": True, "Session": {"DefaultS3Bucket": "bench"}}}}}))
    os.environ.update({"AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_S3": url, "AWS_ACCESS_KEY_ID": s3.access_key,
                       "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_DEFAULT_REGION": "us-east-1",
                       "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config), "SAGEMAKER_SUPPRESS_V2_WARNING": "1"})


def fit(seconds: int) -> float:
    import sagemaker
    from sagemaker.estimator import Estimator

    estimator = Estimator(image_uri=IMAGE, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          hyperparameters={"seconds": seconds}, sagemaker_session=sagemaker.Session())
    started = time.monotonic()
    estimator.fit(logs="All")
    return time.monotonic() - started


def process(seconds: int) -> float:
    import sagemaker
    from sagemaker.processing import Processor

    processor = Processor(image_uri=IMAGE, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          entrypoint=["sleep", str(seconds)], sagemaker_session=sagemaker.Session())
    started = time.monotonic()
    processor.run(wait=True, logs=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--durations", type=int, nargs="+", default=[1, 12, 40])
    args = parser.parse_args()
    build_image()
    results: dict[tuple[str, int, str], float] = {}
    for hold in (60.0, 0.0):
        with stack(sdk_describe_wait=hold) as (url, s3), tempfile.TemporaryDirectory() as tmp:
            point_sdk_at(url, s3, Path(tmp))
            import boto3

            boto3.client("s3").create_bucket(Bucket="bench")
            for seconds in args.durations:
                for name, call in (("fit()", fit), ("Processor.run()", process)):
                    results[(name, seconds, "on" if hold else "off")] = call(seconds)
    print("\n| call | job runs | hold on (default) | hold off | SDK overhead on / off |")
    print("|---|---|---|---|---|")
    for name in ("fit()", "Processor.run()"):
        for seconds in args.durations:
            on, off = results[(name, seconds, "on")], results[(name, seconds, "off")]
            print(f"| {name} | {seconds} s | {on:.1f} s | {off:.1f} s | "
                  f"+{on - seconds:.1f} s / +{off - seconds:.1f} s |")


if __name__ == "__main__":
    main()
