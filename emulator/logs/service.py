"""The CloudWatch Logs subset SDKs use to show job logs (``Logs_20140328.*``).

DescribeLogGroups, DescribeLogStreams, GetLogEvents, FilterLogEvents, plus the writers
(CreateLogGroup, CreateLogStream, PutLogEvents, DeleteLogGroup, DeleteLogStream).
"""

from __future__ import annotations

import re
from typing import Any

from emulator.config import Settings
from emulator.domain.listing import paginate
from emulator.errors import LogsInvalidParameter, LogsResourceAlreadyExists, LogsResourceNotFound
from emulator.handler_spec import OperationTable, in_thread
from emulator.logs.filter import compile_pattern
from emulator.state.logs import LogStore

_TOKEN = re.compile(r"^([fb])/(\d{1,56})$")
_GROUP_MISSING = "The specified log group does not exist."
_STREAM_MISSING = "The specified log stream does not exist."


def _token(direction: str, event_id: int) -> str:
    return f"{direction}/{event_id:056d}"


class LogsOps:
    def __init__(self, settings: Settings, store: LogStore) -> None:
        self.settings = settings
        self.store = store


    def operations(self) -> OperationTable:
        return {"CreateLogGroup": in_thread(self.create_log_group),
                "CreateLogStream": in_thread(self.create_log_stream),
                "PutLogEvents": in_thread(self.put_log_events),
                "DeleteLogGroup": in_thread(self.delete_log_group),
                "DeleteLogStream": in_thread(self.delete_log_stream),
                "DescribeLogGroups": in_thread(self.describe_log_groups),
                "DescribeLogStreams": in_thread(self.describe_log_streams),
                "GetLogEvents": in_thread(self.get_log_events),
                "FilterLogEvents": in_thread(self.filter_log_events)}
    def _arn(self, group: str, stream: str | None = None) -> str:
        base = f"arn:aws:logs:{self.settings.region}:{self.settings.account_id}:log-group:{group}"
        return f"{base}:log-stream:{stream}" if stream is not None else f"{base}:*"

    def _group_name(self, params: dict[str, Any]) -> str:
        name = params.get("logGroupName") or params.get("logGroupIdentifier", "")
        if "logGroupName" in params and "logGroupIdentifier" in params:
            raise LogsInvalidParameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
        if not name:
            raise LogsInvalidParameter("Either logGroupName or logGroupIdentifier must be specified.")
        if name.startswith("arn:"):
            name = name.split(":log-group:", 1)[-1].removesuffix(":*")
        if self.store.group(name) is None:
            raise LogsResourceNotFound(_GROUP_MISSING)
        return name

    # --- writers -------------------------------------------------------------------------------------
    def create_log_group(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.store.create_group(params["logGroupName"]):
            raise LogsResourceAlreadyExists("The specified log group already exists")
        return {}

    def create_log_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        if not self.store.create_stream(group, params["logStreamName"]):
            raise LogsResourceAlreadyExists("The specified log stream already exists")
        return {}

    def put_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        stream = params["logStreamName"]
        if not self.store.stream_exists(group, stream):
            raise LogsResourceNotFound(_STREAM_MISSING)
        events = params["logEvents"]
        stamps = [e["timestamp"] for e in events]
        if stamps != sorted(stamps):
            raise LogsInvalidParameter(
                "Log events in a single PutLogEvents request must be in chronological order.")
        self.store.append(group, stream, ((e["timestamp"], e["message"]) for e in events))
        return {}

    def delete_log_group(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.store.delete_group(params["logGroupName"]):
            raise LogsResourceNotFound(_GROUP_MISSING)
        return {}

    def delete_log_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        if not self.store.delete_stream(group, params["logStreamName"]):
            raise LogsResourceNotFound(_STREAM_MISSING)
        return {}

    # --- readers -------------------------------------------------------------------------------------
    def describe_log_groups(self, params: dict[str, Any]) -> dict[str, Any]:
        groups = self.store.groups(params.get("logGroupNamePrefix", ""))
        if params.get("logGroupNamePattern"):
            needle = params["logGroupNamePattern"].lower()
            groups = [g for g in groups if needle in g["name"].lower()]
        page, token = paginate(groups, _as_list_params(params), 50)
        out: dict[str, Any] = {"logGroups": [{
            "logGroupName": g["name"], "creationTime": g["created"], "metricFilterCount": 0,
            "arn": self._arn(g["name"]), "logGroupArn": self._arn(g["name"]).removesuffix(":*"),
            "storedBytes": g["bytes"], "logGroupClass": "STANDARD",
        } for g in page]}
        if token:
            out["nextToken"] = token
        return out

    def describe_log_streams(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        order = params.get("orderBy", "LogStreamName")
        if order == "LastEventTime" and "logStreamNamePrefix" in params:
            raise LogsInvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
        streams = self.store.streams(group, params.get("logStreamNamePrefix", ""))
        if order == "LastEventTime":
            streams.sort(key=lambda s: (s["last_event"] or 0, s["name"]))
        if params.get("descending"):
            streams.reverse()
        page, token = paginate(streams, _as_list_params(params), 50)
        rows = []
        for s in page:
            row = {"logStreamName": s["name"], "creationTime": s["created"],
                   "arn": self._arn(group, s["name"]), "storedBytes": s["stored_bytes"]}
            if s["first_event"] is not None:
                row.update(firstEventTimestamp=s["first_event"], lastEventTimestamp=s["last_event"],
                           lastIngestionTime=s["last_ingestion"])
            rows.append(row)
        out: dict[str, Any] = {"logStreams": rows}
        if token:
            out["nextToken"] = token
        return out

    def get_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        stream = params["logStreamName"]
        if not self.store.stream_exists(group, stream):
            raise LogsResourceNotFound(_STREAM_MISSING)
        limit = params.get("limit", 10000)
        start, end = params.get("startTime"), params.get("endTime")
        token = params.get("nextToken")
        position: int | None
        if token:
            match = _TOKEN.match(token)
            if not match:
                raise LogsInvalidParameter("The specified nextToken is invalid.")
            direction, position = match.group(1), int(match.group(2))
        elif params.get("startFromHead"):
            direction, position = "f", 0
        else:
            direction, position = "b", None
        if direction == "f":
            events = self.store.events(group, [stream], after_id=position or 0, limit=limit, start=start, end=end)
        else:
            events = self.store.events(group, [stream], before_id=position, limit=limit, newest_first=True,
                                       start=start, end=end)
        if events:
            forward, backward = _token("f", events[-1]["id"]), _token("b", events[0]["id"])
        elif direction == "f":  # nothing new: the same forward token again (the SDK's stop signal)
            after = position or 0
            forward, backward = _token("f", after), _token("b", after + 1)
        else:
            forward, backward = _token("f", 0), _token("b", position if position is not None else 0)
        return {"events": [{"timestamp": e["ts"], "message": e["message"], "ingestionTime": e["ingested"]}
                           for e in events],
                "nextForwardToken": forward, "nextBackwardToken": backward}

    def filter_log_events(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group_name(params)
        if "logStreamNames" in params and "logStreamNamePrefix" in params:
            raise LogsInvalidParameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
        if "logStreamNames" in params:
            streams = [s for s in params["logStreamNames"] if self.store.stream_exists(group, s)]
        else:
            streams = [s["name"] for s in self.store.streams(group, params.get("logStreamNamePrefix", ""))]
        matches = compile_pattern(params.get("filterPattern", ""))
        limit = params.get("limit", 10000)
        after = 0
        if params.get("nextToken"):
            match = _TOKEN.match(params["nextToken"])
            if not match or match.group(1) != "f":
                raise LogsInvalidParameter("The specified nextToken is invalid.")
            after = int(match.group(2))
        found: list[dict[str, Any]] = []
        more = False
        while streams and len(found) <= limit:
            batch = self.store.events(group, streams, after_id=after, limit=1000,
                                      start=params.get("startTime"), end=params.get("endTime"))
            if not batch:
                break
            after = batch[-1]["id"]
            found += [e for e in batch if matches(e["message"])]
        if len(found) > limit:
            found, more = found[:limit], True
        out: dict[str, Any] = {
            "events": [{"logStreamName": e["stream"], "timestamp": e["ts"], "message": e["message"],
                        "ingestionTime": e["ingested"], "eventId": str(e["id"])} for e in found],
            "searchedLogStreams": [{"logStreamName": s, "searchedCompletely": not more} for s in streams],
        }
        if more:
            out["nextToken"] = _token("f", found[-1]["id"])
        return out


def _as_list_params(params: dict[str, Any]) -> dict[str, Any]:
    """Map Logs' lowerCamel paging members onto the shared paginator's names."""
    out = {k: v for k, v in params.items() if k not in ("nextToken", "limit")}
    if "nextToken" in params:
        out["NextToken"] = params["nextToken"]
    if "limit" in params:
        out["MaxResults"] = params["limit"]
    return out
