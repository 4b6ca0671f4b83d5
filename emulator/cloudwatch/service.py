"""The CloudWatch metrics subset that training jobs' users read: GetMetricStatistics, GetMetricData and
ListMetrics for namespace ``/aws/sagemaker/TrainingJobs`` (dimension ``TrainingJobName``; metric names
from the job's MetricDefinitions). The datapoints are the ones the log pump extracted while the job ran
(``emulator.state.metrics``, indexed by job ARN, metric and time), so the SDK's
``TrainingJobAnalytics``, which sends one GetMetricStatistics per metric definition (about 70 for the
built-in XGBoost image), costs one indexed read each, on the event loop.

Statistics are computed per period as CloudWatch does: periods aligned to multiples of ``Period``
seconds, one datapoint per period that has samples, Timestamp = the period's start. Other namespaces
hold no metrics here (empty answers, as CloudWatch gives for a namespace nobody wrote to).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any

from emulator.config import Settings
from emulator.errors import ServiceError
from emulator.handler_spec import OperationTable, on_loop
from emulator.state.metrics import MetricStore

NAMESPACE = "/aws/sagemaker/TrainingJobs"
DIMENSION = "TrainingJobName"
MAX_DATAPOINTS = 1440          # GetMetricStatistics' limit per call
LIST_PAGE = 500                # ListMetrics' page size
STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "SampleCount": lambda v: float(len(v)), "Average": lambda v: sum(v) / len(v), "Sum": lambda v: float(sum(v)),
    "Minimum": min, "Maximum": max,
}


class InvalidParameterValue(ServiceError):
    code = "InvalidParameterValue"


class InvalidParameterCombination(ServiceError):
    code = "InvalidParameterCombination"


def percentile(values: list[float], stat: str) -> float:
    """``p90``, ``p99.9``: the nearest-rank percentile."""
    try:
        rank = float(stat[1:])
    except ValueError:
        raise InvalidParameterValue(f"The statistic {stat} is not supported; use SampleCount, Average, Sum, Minimum, "
                                    "Maximum or a percentile such as p90.") from None
    if not 0 <= rank <= 100:
        raise InvalidParameterValue(f"The percentile {stat} must be between p0 and p100.")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]


def statistic(stat: str, values: list[float]) -> float:
    if stat in STATISTICS:
        return STATISTICS[stat](values)
    if stat.startswith("p"):
        return percentile(values, stat)
    raise InvalidParameterValue(f"The statistic {stat} is not supported; use SampleCount, Average, Sum, Minimum, "
                                "Maximum or a percentile such as p90.")


def buckets(points: list[tuple[int, float]], period: int) -> list[tuple[float, list[float]]]:
    """(period start in epoch seconds, values) per period that has samples, oldest first."""
    grouped: dict[int, list[float]] = {}
    for ts, value in points:
        grouped.setdefault(int(ts // 1000 // period * period), []).append(value)
    return [(float(start), values) for start, values in sorted(grouped.items())]


class CloudWatchOps:
    def __init__(self, settings: Settings, metrics: MetricStore) -> None:
        self.settings = settings
        self.metrics = metrics

    def operations(self) -> OperationTable:
        return {"GetMetricStatistics": on_loop(self.get_metric_statistics),
                "GetMetricData": on_loop(self.get_metric_data),
                "ListMetrics": on_loop(self.list_metrics)}

    # --- naming -------------------------------------------------------------------------------------
    def _arn(self, job: str) -> str:
        return f"arn:aws:sagemaker:{self.settings.region}:{self.settings.account_id}:training-job/{job}"

    def _job(self, namespace: str, dimensions: list[dict[str, str]]) -> str | None:
        """The training job a metric's namespace and dimensions name (None: a metric smlocal never holds)."""
        if namespace != NAMESPACE or len(dimensions) != 1 or dimensions[0].get("Name") != DIMENSION:
            return None
        return dimensions[0].get("Value")

    def _points(self, namespace: str, name: str, dimensions: list[dict[str, str]], start: float, end: float
                ) -> list[tuple[int, float]]:
        job = self._job(namespace, dimensions)
        if job is None:
            return []
        return self.metrics.points(self._arn(job), name, int(start * 1000), int(end * 1000))

    # --- operations -----------------------------------------------------------------------------------
    def get_metric_statistics(self, params: dict[str, Any]) -> dict[str, Any]:
        stats = list(params.get("Statistics") or []) + list(params.get("ExtendedStatistics") or [])
        if not stats:
            raise InvalidParameterCombination("Must specify either Statistics or ExtendedStatistics")
        start, end, period = params["StartTime"], params["EndTime"], params["Period"]
        if end <= start:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        requested = math.ceil((end - start) / period)
        if requested > MAX_DATAPOINTS:
            raise InvalidParameterCombination(
                f"You have requested up to {requested} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. "
                "You may reduce the datapoints requested by increasing Period, or decreasing the time range.")
        points = self._points(params["Namespace"], params["MetricName"], params.get("Dimensions") or [], start, end)
        datapoints = []
        for bucket_start, values in buckets(points, period):
            point: dict[str, Any] = {"Timestamp": bucket_start, "Unit": "None"}
            for stat in params.get("Statistics") or []:
                point[stat] = statistic(stat, values)
            extended = {stat: statistic(stat, values) for stat in params.get("ExtendedStatistics") or []}
            if extended:
                point["ExtendedStatistics"] = extended
            datapoints.append(point)
        return {"Label": params["MetricName"], "Datapoints": datapoints}

    def get_metric_data(self, params: dict[str, Any]) -> dict[str, Any]:
        start, end = params["StartTime"], params["EndTime"]
        if end <= start:
            raise InvalidParameterValue("The parameter StartTime must be less than the parameter EndTime.")
        descending = params.get("ScanBy", "TimestampDescending") == "TimestampDescending"
        results = []
        for query in params["MetricDataQueries"]:
            stat_spec = query.get("MetricStat")
            if stat_spec is None:
                raise InvalidParameterValue(
                    f"MetricDataQuery {query['Id']}: metric math (Expression) is not supported by smlocal; query "
                    "each metric with MetricStat and combine the values yourself.")
            metric = stat_spec["Metric"]
            points = self._points(metric.get("Namespace", ""), metric.get("MetricName", ""),
                                  metric.get("Dimensions") or [], start, end)
            series = [(when, statistic(stat_spec["Stat"], values))
                      for when, values in buckets(points, stat_spec["Period"])]
            if descending:
                series.reverse()
            if query.get("ReturnData", True):
                results.append({"Id": query["Id"], "Label": query.get("Label") or metric.get("MetricName", ""),
                                "Timestamps": [t for t, _ in series], "Values": [v for _, v in series],
                                "StatusCode": "Complete"})
        return {"MetricDataResults": results, "Messages": []}

    def list_metrics(self, params: dict[str, Any]) -> dict[str, Any]:
        namespace = params.get("Namespace", NAMESPACE)
        if namespace != NAMESPACE:
            return {"Metrics": []}
        job: str | None = None
        for dimension in params.get("Dimensions") or []:
            if dimension["Name"] != DIMENSION:
                return {"Metrics": []}
            job = dimension.get("Value", job)
        prefix = self._arn("")
        found = self.metrics.names(self._arn(job) if job is not None else None)
        metrics = [{"Namespace": NAMESPACE, "MetricName": name,
                    "Dimensions": [{"Name": DIMENSION, "Value": arn[len(prefix):]}]}
                   for arn, name in found if arn.startswith(prefix)
                   and params.get("MetricName") in (None, name)]
        offset = _offset(params.get("NextToken"))
        out: dict[str, Any] = {"Metrics": metrics[offset:offset + LIST_PAGE]}
        if offset + LIST_PAGE < len(metrics):
            out["NextToken"] = base64.urlsafe_b64encode(str(offset + LIST_PAGE).encode()).decode()
        return out


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterValue("The specified NextToken is invalid.") from None
