"""How long unmodified SageMaker SDK calls take for short jobs, with smlocal's hold on the SDK's first
Describe (emulator/sagemaker/sdk_wait.py) on (the default, 60 s) and off (SMLOCAL_SDK_DESCRIBE_WAIT=0),
in one run. Jobs just sleep N seconds, so "SDK overhead" = end-to-end time minus N.

    python -m bench.sdk_waiting [--durations 1 12 40]
"""

from __future__ import annotations

import argparse
import os
import time

import boto3

from bench import images
from bench.emulator_proc import running

IMAGE = images.SLEEP
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


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
    images.build_sleep()
    results: dict[tuple[str, int, str], float] = {}
    for hold in (60.0, 0.0):
        # `smlocal up` in its own process, and the SDK pointed at it exactly as `eval "$(smlocal env)"` does
        with running({"SMLOCAL_SDK_DESCRIBE_WAIT": str(hold)}) as emulator:
            os.environ.update({**emulator.env(), "SAGEMAKER_SUPPRESS_V2_WARNING": "1"})
            boto3.DEFAULT_SESSION = None      # the SDK would reuse the previous emulator's keys
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
