"""What the S3 browser previews of an object's head."""

from __future__ import annotations

import json

from emulator.console.pages.s3 import crumbs, preview


def test_csv_becomes_rows_of_whole_lines():
    head = b"a,b,c\n1,2,3\n4,5,"       # the head ends inside a row
    shown = preview("data/train.csv", "", head, complete=False)
    assert shown["kind"] == "csv"
    assert shown["rows"] == [["a", "b", "c"], ["1", "2", "3"]]


def test_json_is_pretty_printed_when_complete():
    shown = preview("x.json", "application/json", json.dumps({"b": [1, 2]}).encode(), complete=True)
    assert shown["kind"] == "json" and '"b": [\n' in shown["text"]
    cut = preview("x.json", "", b'{"b": [1, 2', complete=False)
    assert cut["kind"] == "text"


def test_json_lines():
    shown = preview("capture/x.jsonl", "", b'{"a": 1}\n{"a": 2}\n', complete=True)
    assert shown == {"kind": "jsonl", "lines": ['{"a": 1}', '{"a": 2}']}


def test_binary_and_archives_have_no_preview():
    assert preview("model.tar.gz", "", b"\x1f\x8b\x08abc", complete=True)["kind"] == "binary"
    assert preview("x.bin2", "", b"ab\x00cd", complete=True)["kind"] == "binary"
    assert preview("x.txt", "", b"\xff\xfe\xfa bad utf-8 here", complete=True)["kind"] == "binary"


def test_a_character_cut_at_the_end_of_the_head_is_still_text():
    head = "héllo\nwörld".encode()[:-2] + "ö".encode()[:1]
    shown = preview("notes.txt", "", head, complete=False)
    assert shown["kind"] == "text" and shown["text"] == "héllo\n"


def test_crumbs():
    assert crumbs("b", "a/b/c/") == [("a", "a/"), ("b", "a/b/"), ("c", "a/b/c/")]
    assert crumbs("b", "") == []
