"""The CloudWatch Logs subset, read the way the SageMaker SDK reads job logs."""

from __future__ import annotations

import threading

import pytest
import sagemaker.logs

from emulator.state.logs import now_ms

GROUP = "/aws/sagemaker/TrainingJobs"


def put(logs, stream, messages, start=None):
    start = start or now_ms()
    logs.put_log_events(logGroupName=GROUP, logStreamName=stream,
                        logEvents=[{"timestamp": start + i, "message": m} for i, m in enumerate(messages)])


def make_stream(logs, stream):
    try:
        logs.create_log_group(logGroupName=GROUP)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)


def test_sdk_multi_stream_iter_reads_every_line_once_and_stops(logs, unique):
    streams = [f"{unique}/algo-1-1700000000", f"{unique}/algo-2-1700000000"]
    for index, stream in enumerate(streams):
        make_stream(logs, stream)
        put(logs, stream, [f"host{index + 1} line {i}" for i in range(30)])
    found = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=unique + "/",
                                      orderBy="LogStreamName", limit=2)["logStreams"]
    assert [s["logStreamName"] for s in found] == streams
    positions = {s: sagemaker.logs.Position(timestamp=0, skip=0) for s in streams}
    lines = [event["message"] for _, event in sagemaker.logs.multi_stream_iter(logs, GROUP, streams, positions)]
    assert sorted(lines) == sorted(f"host{h} line {i}" for h in (1, 2) for i in range(30))


def test_sdk_resumes_from_last_timestamp_without_duplicates(logs, unique):
    stream = f"{unique}/algo-1-1"
    make_stream(logs, stream)
    start = now_ms()
    put(logs, stream, ["a", "b", "c"], start)
    seen = [e["message"] for e in sagemaker.logs.log_stream(logs, GROUP, stream)]
    # the SDK restarts from the last timestamp and skips what it saw at that timestamp
    put(logs, stream, ["d", "e"], start + 2)  # same timestamp as "c", then later
    resumed = [e["message"] for e in sagemaker.logs.log_stream(logs, GROUP, stream, start_time=start + 2, skip=1)]
    assert seen == ["a", "b", "c"] and resumed == ["d", "e"]


def test_get_log_events_paging_both_ways(logs, unique):
    stream = f"{unique}/s"
    make_stream(logs, stream)
    put(logs, stream, [f"m{i}" for i in range(25)])
    first = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True, limit=10)
    second = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=first["nextForwardToken"],
                                 limit=10)
    assert [e["message"] for e in first["events"]] == [f"m{i}" for i in range(10)]
    assert [e["message"] for e in second["events"]] == [f"m{i}" for i in range(10, 20)]
    back = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=second["nextBackwardToken"],
                               limit=5)
    assert [e["message"] for e in back["events"]] == [f"m{i}" for i in range(5, 10)]
    tail = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=3)  # newest by default
    assert [e["message"] for e in tail["events"]] == ["m22", "m23", "m24"]
    end = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=tail["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == tail["nextForwardToken"]


def test_time_window_is_start_inclusive_end_exclusive(logs, unique):
    stream = f"{unique}/s"
    make_stream(logs, stream)
    base = now_ms()
    put(logs, stream, ["t0", "t1", "t2", "t3"], base)
    window = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startTime=base + 1, endTime=base + 3,
                                 startFromHead=True)
    assert [e["message"] for e in window["events"]] == ["t1", "t2"]


def test_describe_streams_metadata_and_ordering(logs, unique):
    for name in ("b", "a", "c"):
        make_stream(logs, f"{unique}/{name}")
    put(logs, f"{unique}/a", ["x"], now_ms() + 5000)
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=unique + "/")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"{unique}/{n}" for n in "abc"]
    a = streams[0]
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] and a["storedBytes"] > 0
    assert "firstEventTimestamp" not in streams[1]
    assert a["arn"].endswith(f":log-group:{GROUP}:log-stream:{unique}/a")
    desc = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=unique + "/", descending=True)
    assert [s["logStreamName"] for s in desc["logStreams"]][0] == f"{unique}/c"


def test_filter_log_events_across_streams(logs, unique):
    for host in (1, 2):
        make_stream(logs, f"{unique}/algo-{host}")
        put(logs, f"{unique}/algo-{host}", [f"epoch {i} loss=0.{i}" for i in range(5)] + ["ERROR boom"])
    found = logs.filter_log_events(logGroupName=GROUP, logStreamNamePrefix=unique + "/", filterPattern="ERROR")
    assert [(e["logStreamName"], e["message"]) for e in found["events"]] == [
        (f"{unique}/algo-1", "ERROR boom"), (f"{unique}/algo-2", "ERROR boom")]
    paged = logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, logStreamNames=[f"{unique}/algo-1"], filterPattern='"epoch"',
        PaginationConfig={"PageSize": 2})
    messages = [e["message"] for page in paged for e in page["events"]]
    assert messages == [f"epoch {i} loss=0.{i}" for i in range(5)]


def test_describe_log_groups(logs, unique):
    group = f"/smlocal/test/{unique}"
    logs.create_log_group(logGroupName=group)
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in found] == [group]
    assert found[0]["arn"].endswith(f":log-group:{group}:*")
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


def test_a_catastrophic_regex_neither_stalls_filter_log_events_nor_the_gateway(gateway, unique):
    """Issue 18 finding 5: with a backtracking engine, %(.|.)*Z% took 8 s on a 26-character line
    (doubling per character) and held every other request; RE2 answers in linear time."""
    logs = gateway.client("logs", read_timeout=20)
    stream = f"{unique}/algo-1"
    make_stream(logs, stream)
    put(logs, stream, ["a" * 40, "b" * 60 + "Z", "c" * 200])
    result: dict = {}

    def filtering() -> None:
        result["events"] = logs.filter_log_events(logGroupName=GROUP, logStreamNames=[stream],
                                                  filterPattern="%(.|.)*Z%")["events"]
    worker = threading.Thread(target=filtering)
    worker.start()
    other = gateway.client("logs", read_timeout=20)
    assert other.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=stream)["logStreams"]
    worker.join(20)
    assert not worker.is_alive()
    assert [e["message"] for e in result["events"]] == ["b" * 60 + "Z"]


def test_a_regex_re2_cannot_run_is_an_invalid_parameter(logs, unique):
    stream = f"{unique}/algo-1"
    make_stream(logs, stream)
    with pytest.raises(logs.exceptions.InvalidParameterException, match="Invalid filter pattern regex: "):
        logs.filter_log_events(logGroupName=GROUP, logStreamNames=[stream], filterPattern=r"%(a)\1%")
