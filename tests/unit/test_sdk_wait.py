"""The SDK's first Describe of a running job is held until the job ends; nothing else is (pure).
Asserted on what the handler did (how many times it looked at the record), not on wall-clock time."""

from __future__ import annotations

import threading
import time

from emulator import caller
from emulator.domain.families import TRAINING_JOB
from emulator.sagemaker.sdk_wait import FirstDescribeWait

SDK_UA = "Boto3/1.40 md/Botocore#1.40 ua/2.1 lib/AWS-SageMaker-Python-SDK#2.257.7"
SDK3_UA = "Boto3/1.43 md/Botocore#1.43 ua/2.1 lib/AWS-SageMaker-Python-SDK#3.0"  # SDK 3.27's resources


class Reads:
    """A Describe that counts how often the hold read the record."""

    def __init__(self, record: dict) -> None:
        self.record, self.count = record, 0

    def __call__(self, params: dict) -> dict:
        self.count += 1
        return dict(self.record)


def ask(user_agent, seconds, reads: Reads) -> dict:
    handler = FirstDescribeWait(seconds).wrap(TRAINING_JOB, reads).handler
    with caller.calling_as(user_agent):
        return handler({})


def job(status="InProgress", age=1.0):
    return {"TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/j{time.time_ns()}",
            "TrainingJobStatus": status, "CreationTime": time.time() - age}


def test_first_sdk_look_waits_for_the_end_then_later_looks_do_not():
    reads = Reads(job())
    hold = FirstDescribeWait(30)
    handler = hold.wrap(TRAINING_JOB, reads).handler
    threading.Timer(0.3, lambda: reads.record.update(TrainingJobStatus="Completed")).start()
    with caller.calling_as(SDK_UA):
        assert handler({})["TrainingJobStatus"] == "Completed"   # only the timer makes it Completed
        assert reads.count > 1
        reads.record.update(TrainingJobStatus="InProgress")
        reads.count = 0
        assert handler({})["TrainingJobStatus"] == "InProgress"  # the second look is answered at once
        assert reads.count == 1


def test_other_callers_old_jobs_and_a_zero_window_are_answered_at_once():
    for user_agent, record, seconds in [("aws-cli/2.15 md/Botocore#1.34", job(), 30), (None, job(), 30),
                                        (SDK3_UA, job(), 30),  # SDK 3 polls every 5 s and describes at create
                                        (SDK_UA, job(age=60), 30), (SDK_UA, job(), 0),
                                        (SDK_UA, job("Completed"), 30)]:
        reads = Reads(record)
        assert ask(user_agent, seconds, reads)["TrainingJobStatus"] == record["TrainingJobStatus"]
        assert reads.count == 1, (user_agent, record, seconds)


def test_the_hold_ends_at_the_window_with_the_job_still_running():
    reads = Reads(job())
    assert ask(SDK_UA, 0.3, reads)["TrainingJobStatus"] == "InProgress"
    assert reads.count > 1   # it kept looking until the window closed, then answered


def test_the_quick_attempt_answers_every_look_the_hold_would_answer_at_once_and_defers_the_rest():
    """``quick`` runs on the event loop: it must never answer a look the hold would keep, nor spend one."""
    for user_agent, record, seconds in [("aws-cli/2.15 md/Botocore#1.34", job(), 30), (SDK3_UA, job(), 30),
                                        (SDK_UA, job(age=60), 30), (SDK_UA, job(), 0),
                                        (SDK_UA, job("Completed"), 30)]:
        reads = Reads(record)
        with caller.calling_as(user_agent):
            assert FirstDescribeWait(seconds).wrap(TRAINING_JOB, reads).quick({}) == record
    hold = FirstDescribeWait(30)
    reads = Reads(job())
    spec = hold.wrap(TRAINING_JOB, reads)
    with caller.calling_as(SDK_UA):
        assert spec.quick({}) is None                       # the SDK's first look: the thread holds it
        assert spec.quick({}) is None                       # ... and quick did not use the first look up
        threading.Timer(0.2, lambda: reads.record.update(TrainingJobStatus="Completed")).start()
        assert spec.handler({})["TrainingJobStatus"] == "Completed"
        reads.record.update(TrainingJobStatus="InProgress")
        assert spec.quick({})["TrainingJobStatus"] == "InProgress"   # later looks: on the loop
