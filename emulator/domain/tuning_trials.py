"""A tuning job's trials as SageMaker reports them (pure): each trial's summary
(HyperParameterTrainingJobSummary), the status and objective counters, the best trial, the
not-improving count, and ListTrainingJobsForHyperParameterTuningJob's sorting.

A trial is an ordinary training job; the tuning record keeps, per trial, what the training record
does not know (``_smlocal.trials``: name, definition, tuned hyperparameters, whether early stopping
ended it). Everything else comes from the trial's own record, so the summary is never stale.
"""

from __future__ import annotations

from typing import Any

from emulator.domain.lifecycle import ACTIVE, JobStatus, ObjectiveStatus
from emulator.domain.listing import paginate

DEFAULT_PAGE = 10


def final_objective(training: dict[str, Any], metric: str) -> float | None:
    """The last value the trial reported for the objective (its FinalMetricDataList, set when it ends)."""
    for item in training.get("FinalMetricDataList") or []:
        if item.get("MetricName") == metric:
            return float(item["Value"])
    return None


def objective_status(training: dict[str, Any], metric: str) -> ObjectiveStatus:
    status = training.get("TrainingJobStatus")
    if status in ACTIVE:
        return ObjectiveStatus.PENDING
    if status in (JobStatus.COMPLETED, JobStatus.STOPPED) and final_objective(training, metric) is not None:
        return ObjectiveStatus.SUCCEEDED
    return ObjectiveStatus.FAILED


def summary(trial: dict[str, Any], training: dict[str, Any] | None, tuning_name: str,
            objective: dict[str, str]) -> dict[str, Any]:
    """HyperParameterTrainingJobSummary of one trial (``training`` None: its record was deleted)."""
    training = training or {"TrainingJobName": trial["name"], "TrainingJobArn": trial.get("arn", ""),
                            "CreationTime": trial.get("created", 0), "TrainingJobStatus": "Failed",
                            "FailureReason": "The trial's training job record no longer exists."}
    metric = objective["MetricName"]
    out: dict[str, Any] = {
        "TrainingJobName": training["TrainingJobName"], "TrainingJobArn": training["TrainingJobArn"],
        "TuningJobName": tuning_name, "CreationTime": training["CreationTime"],
        "TrainingJobStatus": training["TrainingJobStatus"], "TunedHyperParameters": dict(trial["tuned"]),
        "ObjectiveStatus": objective_status(training, metric).value,
    }
    if trial.get("definition"):
        out["TrainingJobDefinitionName"] = trial["definition"]
    for field in ("TrainingStartTime", "TrainingEndTime", "FailureReason"):
        if training.get(field) is not None:
            out[field] = training[field]
    value = final_objective(training, metric)
    if value is not None and training["TrainingJobStatus"] not in ACTIVE:
        out["FinalHyperParameterTuningJobObjectiveMetric"] = {"MetricName": metric, "Value": value,
                                                              "Type": objective["Type"]}
    return out


def counters(summaries: list[dict[str, Any]]) -> tuple[dict[str, int], dict[str, int]]:
    """TrainingJobStatusCounters and ObjectiveStatusCounters. A failed trial is a RetryableError when smlocal
    itself failed it (InternalServerError), otherwise a NonRetryableError, as SageMaker counts them."""
    status = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    objective = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for item in summaries:
        state = item["TrainingJobStatus"]
        if state in ACTIVE:
            status["InProgress"] += 1
        elif state == JobStatus.FAILED:
            internal = str(item.get("FailureReason", "")).startswith("InternalServerError")
            status["RetryableError" if internal else "NonRetryableError"] += 1
        else:
            status[state] += 1
        objective[item["ObjectiveStatus"]] += 1
    return status, objective


def _value(item: dict[str, Any]) -> float | None:
    metric = item.get("FinalHyperParameterTuningJobObjectiveMetric")
    return float(metric["Value"]) if metric and item["ObjectiveStatus"] == ObjectiveStatus.SUCCEEDED else None


def better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def best(summaries: list[dict[str, Any]], maximize: bool) -> dict[str, Any] | None:
    """The trial with the best final objective (the earliest of equals), among those that reported one."""
    found: dict[str, Any] | None = None
    for item in sorted(summaries, key=lambda s: (s["CreationTime"], s["TrainingJobName"])):
        value = _value(item)
        if value is not None and (found is None or better(value, _value(found) or 0.0, maximize)):
            found = item
    return found


def not_improving(values_in_end_order: list[float], maximize: bool) -> int:
    """How many trials in a row, most recent last, ended without improving on the best before them."""
    best_so_far: float | None = None
    streak = 0
    for value in values_in_end_order:
        if best_so_far is None or better(value, best_so_far, maximize):
            best_so_far, streak = value, 0
        else:
            streak += 1
    return streak


def list_page(summaries: list[dict[str, Any]], params: dict[str, Any]) -> dict[str, Any]:
    """ListTrainingJobsForHyperParameterTuningJob: StatusEquals, SortBy (default Name), SortOrder (default
    Descending), NextToken. Sorting by FinalObjectiveMetricValue leaves out trials without an objective."""
    selected = summaries
    if params.get("StatusEquals"):
        selected = [s for s in selected if s["TrainingJobStatus"] == params["StatusEquals"]]
    sort_by = params.get("SortBy", "Name")
    descending = params.get("SortOrder", "Descending") == "Descending"
    if sort_by == "FinalObjectiveMetricValue":
        selected = [s for s in selected if _value(s) is not None]
        selected = sorted(selected, key=lambda s: (_value(s), s["TrainingJobName"]), reverse=descending)
    elif sort_by == "CreationTime":
        selected = sorted(selected, key=lambda s: (s["CreationTime"], s["TrainingJobName"]), reverse=descending)
    elif sort_by == "Status":
        selected = sorted(selected, key=lambda s: (s["TrainingJobStatus"], s["TrainingJobName"]), reverse=descending)
    else:
        selected = sorted(selected, key=lambda s: s["TrainingJobName"], reverse=descending)
    page, token = paginate(selected, params, DEFAULT_PAGE)
    out: dict[str, Any] = {"TrainingJobSummaries": page}
    if token:
        out["NextToken"] = token
    return out


MIN_EARLIER_TRIALS = 3   # trials that reached the same epoch before the median rule applies (inferred)


def stop_early(current: list[float], earlier: list[list[float]], maximize: bool) -> bool:
    """TrainingJobEarlyStoppingType Auto, as SageMaker describes it: after epoch k (the trial's k-th objective
    value), take each earlier trial's running average of its first k values and their median; a trial whose
    value is worse than that median is stopped. Needs MIN_EARLIER_TRIALS earlier trials that reached epoch k."""
    k = len(current)
    if k == 0:
        return False
    averages = sorted(sum(series[:k]) / k for series in earlier if len(series) >= k)
    if len(averages) < MIN_EARLIER_TRIALS:
        return False
    middle = len(averages) // 2
    median = averages[middle] if len(averages) % 2 else (averages[middle - 1] + averages[middle]) / 2
    return better(median, current[-1], maximize)
