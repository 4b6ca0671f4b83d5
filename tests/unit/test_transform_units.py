"""Batch transform pieces without Docker: JSONPath subset, DataProcessing join/filter, streaming
split (Line, RecordIO, gzip), mini-batching, settings precedence and the container environment."""

from __future__ import annotations

import gzip
import struct

import pytest

from emulator.domain.transform_filters import DataProcessing, FilterError, apply, parse_path
from emulator.infra.platform import PlatformEnv
from emulator.jobs import transform_contract as contract
from emulator.jobs.transform_data import split_output
from emulator.jobs.transform_records import RecordError, batches, line_blocks, lines, records


@pytest.mark.parametrize("path, value, expected", [
    ("$", {"a": 1}, {"a": 1}),
    ("$.features", {"features": [1, 2]}, [1, 2]),
    ("$.a.b", {"a": {"b": 3}}, 3),
    ("$['id','x']", {"id": 1, "x": 2, "y": 3}, {"id": 1, "x": 2}),
    ("$[0,-1]", ["a", "b", "c"], ["a", "c"]),
    ("$[1:]", ["a", "b", "c"], ["b", "c"]),
    ("$[:2]", ["a", "b", "c"], ["a", "b"]),
    ("$[-1]", ["a", "b"], "b"),
    ("$.*", {"a": 1, "b": 2}, [1, 2]),
    ("$[*].v", [{"v": 1}, {"v": 2}], [1, 2]),
])
def test_jsonpath_subset(path, value, expected):
    assert apply(parse_path(path), value) == expected


@pytest.mark.parametrize("path", ["a", "$..a", "$[?(@.a)]", "$.a b"])
def test_jsonpath_outside_the_subset(path):
    with pytest.raises(FilterError):
        parse_path(path)


def test_missing_member_is_an_error():
    with pytest.raises(FilterError, match="no attribute 'b'"):
        apply(parse_path("$.b"), {"a": 1})
    with pytest.raises(FilterError, match=r"no element \[5\]"):
        apply(parse_path("$[5]"), [1])


def _processing(csv_format: bool, **config) -> DataProcessing:
    found = DataProcessing.from_job({"DataProcessing": config}, csv_format)
    assert found is not None
    return found


def test_csv_join_and_filters():
    processing = _processing(True, InputFilter="$[1:]", JoinSource="Input", OutputFilter="$[0,-1]")
    assert processing.filter_input(b'id-1,"a,b",3\n') == b'"a,b",3\n'
    assert processing.assemble(b"id-1,2,3\n", b"0.5\n") == b"id-1,0.5"


def test_json_join_object_and_non_object_input():
    processing = _processing(False, JoinSource="Input")
    assert processing.assemble(b'{"id": 1}\n', b'{"p": 0.5}') == b'{"id":1,"SageMakerOutput":{"p":0.5}}'
    assert processing.assemble(b"[1, 2]\n", b"3") == b'{"SageMakerInput":[1,2],"SageMakerOutput":3}'
    with pytest.raises(FilterError, match="not JSON"):
        processing.assemble(b"not json\n", b"3")


def test_default_data_processing_is_none():
    assert DataProcessing.from_job({"DataProcessing": {"InputFilter": "$", "JoinSource": "None"}}, True) is None
    assert DataProcessing.from_job({}, False) is None


def _chunked(data: bytes, size: int = 3):
    return [data[i:i + size] for i in range(0, len(data), size)]


def test_lines_across_chunks_skip_blank_lines_and_keep_newlines():
    data = b"1,2\n\n3,4\r\n5,6"
    assert list(records(_chunked(data), "Line", "None")) == [b"1,2\n", b"3,4\r\n", b"5,6"]
    assert list(records(_chunked(data), "None", "None")) == [data]


def test_gzip_multi_member_and_truncated():
    data = gzip.compress(b"a\nb\n") + gzip.compress(b"c\n")
    assert list(records(_chunked(data, 5), "Line", "Gzip")) == [b"a\n", b"b\n", b"c\n"]
    with pytest.raises(RecordError, match="ends early"):
        list(records([gzip.compress(b"a\nb\n" * 100)[:-12]], "Line", "Gzip"))
    with pytest.raises(RecordError, match="not valid gzip"):
        list(records([b"plain text"], "Line", "Gzip"))


def _recordio(payload: bytes, flag: int = 0) -> bytes:
    return struct.pack("<II", 0xCED7230A, (flag << 29) | len(payload)) + payload + b"\0" * (-len(payload) % 4)


def test_recordio_records_keep_their_framing_and_join_parts():
    one, two = _recordio(b"abcde"), _recordio(b"xy")
    parts = _recordio(b"p1", 1) + _recordio(b"p2", 3)
    assert list(records(_chunked(one + two + parts, 7), "RecordIO", "None")) == [one, two, parts]
    with pytest.raises(RecordError, match="truncated"):
        list(records([one[:-2]], "RecordIO", "None"))


def test_batches_multi_single_and_limits():
    source = [b"x" * 400_000 for _ in range(6)]
    assert [b.count for b in batches(source, "MultiRecord", 1)] == [2, 2, 2]
    assert [b.count for b in batches(source, "SingleRecord", 1)] == [1] * 6
    assert [b.count for b in batches(source, "MultiRecord", 0)] == [6]
    with pytest.raises(RecordError, match="record 2 is 2097152 bytes, more than MaxPayloadInMB"):
        list(batches([b"a", b"x" * 2 * 1024 * 1024], "MultiRecord", 1))


def test_split_output_per_record():
    assert split_output(b"1\n2\n", 2) == [b"1", b"2"]
    assert split_output(b"[0.5, [1, 2]]", 2) == [b"0.5", b"[1,2]"]
    assert split_output(b"[0.5]", 1) == [b"[0.5]"]
    assert split_output(b"1\n", 2) is None


JOB = {"TransformJobName": "j", "TransformInput": {"ContentType": "text/csv"}, "TransformOutput": {},
       "_smlocal": {"model": {"PrimaryContainer": {"Image": "i", "Environment": {"M": "1", "A": "model"}}}}}


def _first(job, container):
    found = contract.settings(job, container)
    return found.concurrency, found.strategy, found.payload_mb


def test_settings_precedence_request_container_defaults():
    assert _first(JOB, None) == (1, "MultiRecord", 6)
    container = {"MaxConcurrentTransforms": 8, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 0}
    assert _first(JOB, container) == (8, "SingleRecord", 0)
    assert _first(JOB, {"MaxConcurrentTransforms": "8", "MaxPayloadInMB": 500}) == \
        (1, "MultiRecord", 6)        # nonsense from the container is ignored
    job = {**JOB, "MaxConcurrentTransforms": 2, "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 3,
           "ModelClientConfig": {"InvocationsTimeoutInSeconds": 30, "InvocationsMaxRetries": 0}}
    found = contract.settings(job, container)
    assert (found.concurrency, found.strategy, found.payload_mb, found.timeout, found.retries) == \
        (2, "MultiRecord", 3, 30.0, 0)


def test_environment_batch_variables_only_when_given():
    platform = PlatformEnv("us-east-1", "http://s3", "k", "s")
    env = contract.environment({**JOB, "Environment": {"A": "job"}}, platform)
    assert env["SAGEMAKER_BATCH"] == "true" and env["M"] == "1" and env["A"] == "job"
    assert not any(k in env for k in ("SAGEMAKER_BATCH_STRATEGY", "SAGEMAKER_MAX_PAYLOAD_IN_MB",
                                      "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"))
    env = contract.environment({**JOB, "BatchStrategy": "SingleRecord", "MaxPayloadInMB": 0,
                                "MaxConcurrentTransforms": 4}, platform)
    assert (env["SAGEMAKER_BATCH_STRATEGY"], env["SAGEMAKER_MAX_PAYLOAD_IN_MB"],
            env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"]) == ("SINGLE_RECORD", "0", "4")


@pytest.mark.parametrize("chunk", [7, 1000, 300_000, 5_000_000])
def test_line_blocks_cut_as_the_record_batcher(chunk):
    """The fast path (blocks cut from the byte stream) sends exactly the mini-batches that splitting
    into records and batching them would, blank lines dropped, last line without newline kept."""
    rows = [(f"{i}," + "y" * (i % 50) + "\n").encode() for i in range(40_000)]
    data = b"".join(rows) + b"last,row"
    expected = [(b.body, b.count) for b in batches(lines(_chunked(data, chunk)), "MultiRecord", 1)]
    found = [(b.body, b.count) for b in line_blocks(_chunked(data, chunk), 1)]
    assert len(expected) > 1 and found == expected
    assert [(b.body, b.count) for b in line_blocks(_chunked(data, chunk), 0)] == \
        [(b.body, b.count) for b in batches(lines([data]), "MultiRecord", 0)]
    # blank lines are dropped as the record splitter drops them (the cuts may then differ slightly)
    rows[10], rows[500], rows[30_000] = b"\n", b"\r\n", b"\n"
    data = b"\n" + b"".join(rows) + b"last,row"
    found = list(line_blocks(_chunked(data, chunk), 1))
    assert b"".join(b.body for b in found) == b"".join(lines([data]))
    assert sum(b.count for b in found) == len(list(lines([data]))) and all(b.body[:1] != b"\n" for b in found)


def test_line_blocks_record_too_large():
    with pytest.raises(RecordError, match="record 2 is 1048577 bytes, more than MaxPayloadInMB"):
        list(line_blocks([b"a\n", b"x" * 1024 * 1024 + b"\n", b"b\n"], 1))
