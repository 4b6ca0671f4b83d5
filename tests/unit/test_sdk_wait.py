"""The SDK's first Describe of a running job is held until the job ends; nothing else is (pure)."""

from __future__ import annotations

import threading
import time

from emulator import caller
from emulator.sagemaker.families import TRAINING_JOB
from emulator.sagemaker.sdk_wait import FirstDescribeWait

SDK_UA = "Boto3/1.40 md/Botocore#1.40 ua/2.1 lib/AWS-SageMaker-Python-SDK#2.257.7"


def ask(user_agent, handler):
    with caller.calling_as(user_agent):
        return handler({})


def job(status="InProgress", age=1.0):
    return {"TrainingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:training-job/j",
            "TrainingJobStatus": status, "CreationTime": time.time() - age}


def test_first_sdk_look_waits_for_the_end_then_later_looks_do_not():
    record = job()
    threading.Timer(0.3, lambda: record.update(TrainingJobStatus="Completed")).start()
    handler = FirstDescribeWait(5).wrap(TRAINING_JOB, lambda params: dict(record))
    started = time.monotonic()
    assert ask(SDK_UA, handler)["TrainingJobStatus"] == "Completed"
    assert 0.25 < time.monotonic() - started < 2
    record.update(TrainingJobStatus="InProgress")
    started = time.monotonic()
    assert ask(SDK_UA, handler)["TrainingJobStatus"] == "InProgress"  # second look: at once
    assert time.monotonic() - started < 0.1


def test_other_callers_old_jobs_and_a_zero_window_are_answered_at_once():
    for user_agent, record, seconds in [("aws-cli/2.15 md/Botocore#1.34", job(), 5), (None, job(), 5),
                                        (SDK_UA, job(age=60), 5), (SDK_UA, job(), 0),
                                        (SDK_UA, job("Completed"), 5)]:
        handler = FirstDescribeWait(seconds).wrap(TRAINING_JOB, lambda params, r=record: dict(r))
        started = time.monotonic()
        ask(user_agent, handler)
        assert time.monotonic() - started < 0.1, (user_agent, record, seconds)


def test_the_hold_ends_at_the_window_with_the_job_still_running():
    handler = FirstDescribeWait(0.3).wrap(TRAINING_JOB, lambda params: job())
    started = time.monotonic()
    assert ask(SDK_UA, handler)["TrainingJobStatus"] == "InProgress"
    assert 0.25 < time.monotonic() - started < 1
