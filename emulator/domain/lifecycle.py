"""Statuses and how records move between them, for every family that has a lifecycle (pure).

One place for what used to be written out per family: the status names (botocore's own enums:
``tests/unit/test_lifecycle.py`` checks them against the service model), which moves are allowed,
what a Stop request does to a record, and the bookkeeping of a job's end (end time, FailureReason,
and for training the SecondaryStatusTransitions and billable seconds).

Callers change records only inside ``Records.update`` (one transaction), passing these functions
or small lambdas around them, so every move is one committed write.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from emulator.domain import training_status
from emulator.domain.families import (
    PIPELINE_EXECUTION,
    PROCESSING_JOB,
    TRAINING_JOB,
    TRANSFORM_JOB,
    TUNING_JOB,
    Family,
)
from emulator.errors import ValidationException


class JobStatus(str, Enum):
    """TrainingJobStatus, ProcessingJobStatus, TransformJobStatus and HyperParameterTuningJobStatus (the
    same five names; the tuning enum also has Deleting and DeleteFailed, which smlocal never shows:
    DeleteHyperParameterTuningJob removes an ended job's record at once)."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    def __str__(self) -> str:
        return self.value


class ObjectiveStatus(str, Enum):
    """A tuning trial's ObjectiveStatus: Pending while it runs, then whether it reported the objective."""

    SUCCEEDED = "Succeeded"
    PENDING = "Pending"
    FAILED = "Failed"

    def __str__(self) -> str:
        return self.value


class EndpointStatus(str, Enum):
    """EndpointStatus. smlocal enters Creating, Updating, Deleting, InService and Failed; the others
    (SystemUpdating, RollingBack, OutOfService, UpdateRollbackFailed) are SageMaker's own doings."""

    OUT_OF_SERVICE = "OutOfService"
    CREATING = "Creating"
    UPDATING = "Updating"
    SYSTEM_UPDATING = "SystemUpdating"
    ROLLING_BACK = "RollingBack"
    IN_SERVICE = "InService"
    DELETING = "Deleting"
    FAILED = "Failed"
    UPDATE_ROLLBACK_FAILED = "UpdateRollbackFailed"

    def __str__(self) -> str:
        return self.value


class ModelPackageGroupStatus(str, Enum):
    """ModelPackageGroupStatus. A group is a record only: smlocal creates it Completed and deletes it at
    once, so Pending, InProgress, Failed, Deleting and DeleteFailed never show."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    DELETING = "Deleting"
    DELETE_FAILED = "DeleteFailed"

    def __str__(self) -> str:
        return self.value


class ModelPackageStatus(str, Enum):
    """ModelPackageStatus. smlocal runs no package validation or image scan, so a package is Completed
    when created (its ModelPackageStatusDetails say so)."""

    PENDING = "Pending"
    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    DELETING = "Deleting"

    def __str__(self) -> str:
        return self.value


ACTIVE = frozenset({JobStatus.IN_PROGRESS, JobStatus.STOPPING})
TERMINAL = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED})

# A job that completes or fails while a Stop is being handled ends as it ended (a race SageMaker has too).
JOB_MOVES: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.IN_PROGRESS: frozenset({JobStatus.STOPPING, *TERMINAL}),
    JobStatus.STOPPING: TERMINAL,
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.STOPPED: frozenset(),
}

ENDPOINT_MOVES: dict[EndpointStatus, frozenset[EndpointStatus]] = {
    EndpointStatus.CREATING: frozenset({EndpointStatus.IN_SERVICE, EndpointStatus.FAILED}),
    # a failed update leaves the endpoint serving what it served (InService with a FailureReason)
    EndpointStatus.UPDATING: frozenset({EndpointStatus.IN_SERVICE, EndpointStatus.FAILED}),
    EndpointStatus.IN_SERVICE: frozenset({EndpointStatus.UPDATING, EndpointStatus.DELETING, EndpointStatus.FAILED}),
    EndpointStatus.FAILED: frozenset({EndpointStatus.DELETING}),
    EndpointStatus.DELETING: frozenset(),
}
ENDPOINT_BUSY = frozenset({EndpointStatus.CREATING, EndpointStatus.UPDATING, EndpointStatus.DELETING})


class InvalidTransition(RuntimeError):
    """smlocal tried a move its lifecycle does not allow: a bug, never the user's doing."""


def endpoint_move(record: dict[str, Any], to: EndpointStatus) -> None:
    current = EndpointStatus(record["EndpointStatus"])
    if to != current and to not in ENDPOINT_MOVES.get(current, frozenset()):
        raise InvalidTransition(f"endpoint {record.get('EndpointName')}: {current} -> {to}")
    record["EndpointStatus"] = to.value


@dataclass(frozen=True)
class JobLifecycle:
    """The lifecycle of one job family: ``InProgress -> Completed | Failed``, or via ``Stopping`` to
    ``Stopped``."""

    family: Family
    label: str                # as SageMaker's messages name it: "training job"
    end_time_field: str       # set when the job ends

    @property
    def status_field(self) -> str:
        assert self.family.status_field is not None
        return self.family.status_field

    def status(self, record: dict[str, Any]) -> JobStatus:
        return JobStatus(record[self.status_field])

    def is_active(self, record: dict[str, Any]) -> bool:
        return self.status(record) in ACTIVE

    @property
    def active_statuses(self) -> tuple[str, ...]:
        """The statuses of a job that has not ended (restart recovery looks for these)."""
        return tuple(s.value for s in ACTIVE)

    def is_stopping(self, record: dict[str, Any]) -> bool:
        return self.status(record) == JobStatus.STOPPING

    def move(self, record: dict[str, Any], to: JobStatus) -> None:
        current = self.status(record)
        if to != current and to not in JOB_MOVES[current]:
            raise InvalidTransition(f"{self.family.kind} {record.get(self.family.name_field)}: {current} -> {to}")
        record[self.status_field] = to.value

    # --- stop ---------------------------------------------------------------------------------------
    def request_stop(self, record: dict[str, Any], now: float) -> None:
        """What Stop<Job> does to the record: refused once the job ended, InProgress -> Stopping
        (already Stopping: nothing more). The runner sees the status and stops the containers."""
        current = self.status(record)
        if current in TERMINAL:
            raise ValidationException(
                f"The request was rejected because the {self.label} is in status {current}.")
        self.mark_stopping(record, now)

    def mark_stopping(self, record: dict[str, Any], now: float) -> None:
        """InProgress -> Stopping (the runner's side of a Stop, or MaxRuntime); otherwise nothing."""
        if self.status(record) == JobStatus.IN_PROGRESS:
            self.move(record, JobStatus.STOPPING)
            self.stopping_entered(record, now)

    def stopping_entered(self, record: dict[str, Any], now: float) -> None:
        """Family-specific bookkeeping when Stopping starts."""

    # --- end ----------------------------------------------------------------------------------------
    def finish(self, record: dict[str, Any], status: JobStatus, now: float, failure: str | None = None,
               secondary: str | None = None) -> None:
        """Enter a terminal status: end time and FailureReason (at most 1,024 characters, as SageMaker).
        ``secondary``: the training job's final SecondaryStatus when it differs from ``status``
        (MaxRuntimeExceeded)."""
        if status not in TERMINAL:
            raise InvalidTransition(f"{status} is not a terminal status")
        self.move(record, status)
        if failure:
            record["FailureReason"] = failure[:1024]
        record[self.end_time_field] = now


@dataclass(frozen=True)
class TrainingLifecycle(JobLifecycle):
    """Training adds SecondaryStatus and its transitions, and the training and billable seconds."""

    def stopping_entered(self, record: dict[str, Any], now: float) -> None:
        training_status.transition(record, "Stopping", now)

    def finish(self, record: dict[str, Any], status: JobStatus, now: float, failure: str | None = None,
               secondary: str | None = None) -> None:
        training_status.transition(record, secondary or status.value, now)
        record["SecondaryStatusTransitions"][-1]["EndTime"] = now
        super().finish(record, status, now, failure)
        start = record.get("TrainingStartTime")
        if start is not None:
            seconds = max(1, int(round(now - start)))
            record["TrainingTimeInSeconds"] = seconds
            record["BillableTimeInSeconds"] = seconds


TRAINING = TrainingLifecycle(TRAINING_JOB, "training job", "TrainingEndTime")
PROCESSING = JobLifecycle(PROCESSING_JOB, "processing job", "ProcessingEndTime")
TRANSFORM = JobLifecycle(TRANSFORM_JOB, "transform job", "TransformEndTime")
TUNING = JobLifecycle(TUNING_JOB, "hyperparameter tuning job", "HyperParameterTuningEndTime")


class PipelineExecutionStatus(str, Enum):
    """PipelineExecutionStatus (CompletedWithFailures is for steps that may fail, which smlocal has not)."""

    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"
    COMPLETED_WITH_FAILURES = "CompletedWithFailures"

    def __str__(self) -> str:
        return self.value


class StepStatus(str, Enum):
    """A pipeline step's StepStatus."""

    STARTING = "Starting"
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"

    def __str__(self) -> str:
        return self.value


STEP_ACTIVE = frozenset({StepStatus.STARTING, StepStatus.EXECUTING, StepStatus.STOPPING})

# a pipeline execution runs as a job kind (the job runtime schedules, stops and recovers it): its statuses
# are the job statuses under other names
_EXECUTION_AS_JOB = {
    PipelineExecutionStatus.EXECUTING: JobStatus.IN_PROGRESS,
    PipelineExecutionStatus.STOPPING: JobStatus.STOPPING,
    PipelineExecutionStatus.STOPPED: JobStatus.STOPPED,
    PipelineExecutionStatus.FAILED: JobStatus.FAILED,
    PipelineExecutionStatus.SUCCEEDED: JobStatus.COMPLETED,
}
_JOB_AS_EXECUTION = {job: execution for execution, job in _EXECUTION_AS_JOB.items()}


@dataclass(frozen=True)
class PipelineExecutionLifecycle(JobLifecycle):
    """``Executing -> Succeeded | Failed``, or via ``Stopping`` to ``Stopped``; RetryPipelineExecution moves a
    Failed or Stopped execution back to Executing (``retry``)."""

    def status(self, record: dict[str, Any]) -> JobStatus:
        return _EXECUTION_AS_JOB[PipelineExecutionStatus(record[self.status_field])]

    def move(self, record: dict[str, Any], to: JobStatus) -> None:
        current = self.status(record)
        if to != current and to not in JOB_MOVES[current]:
            raise InvalidTransition(f"pipeline execution {record.get('PipelineExecutionArn')}: {current} -> {to}")
        record[self.status_field] = _JOB_AS_EXECUTION[to].value

    @property
    def active_statuses(self) -> tuple[str, ...]:
        return (PipelineExecutionStatus.EXECUTING.value, PipelineExecutionStatus.STOPPING.value)

    def request_stop(self, record: dict[str, Any], now: float) -> None:
        current = record[self.status_field]
        if self.status(record) in TERMINAL:
            raise ValidationException(
                f"Pipeline execution with ARN {record['PipelineExecutionArn']} is in status {current}. "
                "Only executions in Executing status can be stopped.")
        self.mark_stopping(record, now)

    def retry(self, record: dict[str, Any]) -> None:
        current = record[self.status_field]
        if current not in (PipelineExecutionStatus.FAILED, PipelineExecutionStatus.STOPPED):
            raise ValidationException(
                f"Pipeline execution with ARN {record['PipelineExecutionArn']} is in status {current}. "
                "Only executions in Failed or Stopped status can be retried.")
        record[self.status_field] = PipelineExecutionStatus.EXECUTING.value
        record.pop("FailureReason", None)


PIPELINE_RUN = PipelineExecutionLifecycle(PIPELINE_EXECUTION, "pipeline execution", "LastModifiedTime")
JOBS = (TRAINING, PROCESSING, TRANSFORM, TUNING, PIPELINE_RUN)
BY_FAMILY = {lifecycle.family.kind: lifecycle for lifecycle in JOBS}
