"""Training job statuses and SecondaryStatusTransitions, as SageMaker reports them (pure)."""

from __future__ import annotations

from typing import Any

IN_PROGRESS, COMPLETED, FAILED, STOPPING, STOPPED = "InProgress", "Completed", "Failed", "Stopping", "Stopped"
TERMINAL = (COMPLETED, FAILED, STOPPED)
ACTIVE = (IN_PROGRESS, STOPPING)

# SageMaker's own status messages (as DescribeTrainingJob and the SDK's log output show them)
MESSAGES = {
    "Starting": "Launching requested ML instances",
    "Preparing": "Preparing the instances for training",
    "Downloading": "Downloading input data",
    "Training": "Training image download completed. Training in progress.",
    "Uploading": "Uploading generated training model",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
    "MaxRuntimeExceeded": "Training job exceeded MaxRuntimeInSeconds provided",
}


def transition(record: dict[str, Any], status: str, now: float, message: str | None = None) -> None:
    """Enter secondary ``status`` (or update the current one's message)."""
    transitions = record.setdefault("SecondaryStatusTransitions", [])
    text = message or MESSAGES.get(status, status)
    if transitions and transitions[-1]["Status"] == status:
        transitions[-1]["StatusMessage"] = text
        return
    if transitions and "EndTime" not in transitions[-1]:
        transitions[-1]["EndTime"] = now
    transitions.append({"Status": status, "StartTime": now, "StatusMessage": text})
    record["SecondaryStatus"] = status


def finish(record: dict[str, Any], status: str, secondary: str, now: float, failure: str | None = None) -> None:
    """Enter a terminal state: timestamps, billable time, closed transitions."""
    transition(record, secondary, now)
    record["SecondaryStatusTransitions"][-1]["EndTime"] = now
    record["TrainingJobStatus"] = status
    if failure:
        record["FailureReason"] = failure[:1024]
    record["TrainingEndTime"] = now
    start = record.get("TrainingStartTime")
    if start is not None:
        seconds = max(1, int(round(now - start)))
        record["TrainingTimeInSeconds"] = seconds
        record["BillableTimeInSeconds"] = seconds
