"""The lifecycle module: status names are botocore's, moves are checked, Stop and the end of a job
do the bookkeeping SageMaker shows (pure)."""

from __future__ import annotations

import pytest

from emulator.api.service_models import service_model
from emulator.domain import lifecycle, training_status
from emulator.domain.lifecycle import (
    PROCESSING,
    TRAINING,
    TRANSFORM,
    TUNING,
    EndpointStatus,
    InvalidTransition,
    JobStatus,
    ModelPackageGroupStatus,
    ModelPackageStatus,
    ObjectiveStatus,
    endpoint_move,
)
from emulator.errors import ValidationException


def enum_of(shape: str) -> set[str]:
    return set(service_model("sagemaker").shape_for(shape).enum)


@pytest.mark.parametrize("shape", ["TrainingJobStatus", "ProcessingJobStatus", "TransformJobStatus",
                                   "HyperParameterTuningJobStatus"])
def test_job_statuses_are_botocores(shape: str) -> None:
    # TrainingJobStatus also has Deleting, for DeleteTrainingJob, which smlocal does not serve; a tuning
    # job's Delete removes an ended job's record at once, so Deleting and DeleteFailed are never shown
    extra = {"TrainingJobStatus": {"Deleting"}, "HyperParameterTuningJobStatus": {"Deleting", "DeleteFailed"}}
    assert {s.value for s in JobStatus} | extra.get(shape, set()) == enum_of(shape)


def test_model_registry_statuses_are_botocores() -> None:
    assert {s.value for s in ModelPackageGroupStatus} == enum_of("ModelPackageGroupStatus")
    assert {s.value for s in ModelPackageStatus} == enum_of("ModelPackageStatus")


def test_objective_statuses_are_botocores() -> None:
    assert {s.value for s in ObjectiveStatus} == enum_of("ObjectiveStatus")


def test_endpoint_statuses_are_botocores_and_secondary_statuses_exist() -> None:
    assert {s.value for s in EndpointStatus} == enum_of("EndpointStatus")
    secondary = enum_of("SecondaryStatus")
    assert set(training_status.MESSAGES) - {"Preparing"} <= secondary   # "Preparing" is a message of Starting


def test_every_status_has_its_moves_and_ended_jobs_never_move() -> None:
    assert set(lifecycle.JOB_MOVES) == set(JobStatus)
    for ended in lifecycle.TERMINAL:
        assert lifecycle.JOB_MOVES[ended] == frozenset()
    record = {"ProcessingJobName": "p", "ProcessingJobStatus": "Completed"}
    with pytest.raises(InvalidTransition, match="Completed -> Stopping"):
        PROCESSING.move(record, JobStatus.STOPPING)


@pytest.mark.parametrize("job", [TRAINING, PROCESSING, TRANSFORM, TUNING], ids=lambda j: j.label)
def test_stop_moves_a_running_job_to_stopping_and_refuses_an_ended_one(job) -> None:
    record = {job.status_field: "InProgress"}
    job.request_stop(record, 5.0)
    assert record[job.status_field] == "Stopping"
    job.request_stop(record, 6.0)                       # a second Stop changes nothing
    assert record[job.status_field] == "Stopping"
    for ended in ("Completed", "Failed", "Stopped"):
        with pytest.raises(ValidationException) as raised:
            job.request_stop({job.status_field: ended}, 7.0)
        assert raised.value.message == f"The request was rejected because the {job.label} is in status {ended}."


def test_a_training_stop_opens_the_stopping_secondary_status() -> None:
    record = {"TrainingJobStatus": "InProgress"}
    training_status.transition(record, "Training", 1.0)
    TRAINING.request_stop(record, 2.0)
    assert record["SecondaryStatus"] == "Stopping"
    assert record["SecondaryStatusTransitions"][0]["EndTime"] == 2.0


def test_training_finish_closes_the_transitions_and_counts_billable_seconds() -> None:
    record: dict = {"TrainingJobStatus": "InProgress", "TrainingStartTime": 2.0}
    training_status.transition(record, "Starting", 1.0)
    training_status.transition(record, "Downloading", 2.0)
    training_status.transition(record, "Downloading", 2.5, "Downloading input data: 1 MB of 2 MB")
    TRAINING.finish(record, JobStatus.COMPLETED, 10.0)
    assert record["SecondaryStatusTransitions"] == [
        {"Status": "Starting", "StartTime": 1.0, "EndTime": 2.0, "StatusMessage": "Launching requested ML instances"},
        {"Status": "Downloading", "StartTime": 2.0, "EndTime": 10.0,
         "StatusMessage": "Downloading input data: 1 MB of 2 MB"},
        {"Status": "Completed", "StartTime": 10.0, "EndTime": 10.0, "StatusMessage": "Training job completed"}]
    assert record["TrainingJobStatus"] == "Completed" and record["TrainingEndTime"] == 10.0
    assert record["TrainingTimeInSeconds"] == record["BillableTimeInSeconds"] == 8


def test_max_runtime_ends_stopped_with_its_own_secondary_status() -> None:
    record: dict = {"TrainingJobStatus": "InProgress"}
    TRAINING.finish(record, JobStatus.STOPPED, 3.0, secondary="MaxRuntimeExceeded")
    assert record["TrainingJobStatus"] == "Stopped" and record["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert record["SecondaryStatusTransitions"][-1]["StatusMessage"] == \
        "Training job exceeded MaxRuntimeInSeconds provided"


@pytest.mark.parametrize("job", [TRAINING, PROCESSING, TRANSFORM], ids=lambda j: j.label)
def test_failure_reason_is_cut_at_1024_characters_and_end_time_set(job) -> None:
    record: dict = {job.status_field: "InProgress"}
    job.finish(record, JobStatus.FAILED, 5.0, "AlgorithmError: " + "x" * 2000)
    assert len(record["FailureReason"]) == 1024 and record[job.end_time_field] == 5.0
    with pytest.raises(InvalidTransition):
        job.finish({job.status_field: "InProgress"}, JobStatus.STOPPING, 5.0)


def test_endpoint_moves() -> None:
    record = {"EndpointName": "e", "EndpointStatus": "Creating"}
    endpoint_move(record, EndpointStatus.IN_SERVICE)
    endpoint_move(record, EndpointStatus.UPDATING)
    endpoint_move(record, EndpointStatus.IN_SERVICE)
    endpoint_move(record, EndpointStatus.DELETING)
    assert record["EndpointStatus"] == "Deleting"
    with pytest.raises(InvalidTransition, match="Deleting -> InService"):
        endpoint_move(record, EndpointStatus.IN_SERVICE)
