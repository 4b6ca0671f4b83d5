from __future__ import annotations

import pytest

from emulator.errors import LogsInvalidParameter
from emulator.logs.filter import compile_pattern


@pytest.mark.parametrize("pattern, line, expected", [
    ("", "anything", True),
    ("ERROR", "an ERROR here", True),
    ("ERROR", "an error here", False),            # case-sensitive, like CloudWatch
    ("ERROR Exception", "ERROR: Exception raised", True),
    ("ERROR Exception", "ERROR only", False),
    ('"epoch 3"', "train epoch 3 loss", True),
    ('"epoch 3"', "epoch 30", True),
    ('"epoch 3"', "epoch  3", False),
    ("?WARN ?ERROR", "a WARN", True),
    ("?WARN ?ERROR", "all good", False),
    ("ERROR -retry", "ERROR retry later", False),
    ("ERROR -retry", "ERROR final", True),
    ("%loss=[0-9.]+%", "loss=0.25", True),
    ("%loss=[0-9.]+%", "loss=nan", False),
])
def test_patterns(pattern, line, expected):
    assert compile_pattern(pattern)(line) is expected


@pytest.mark.parametrize("pattern", ['{ $.level = "ERROR" }', "[ip, user]", '"unbalanced', "%(%"])
def test_unsupported_or_broken_patterns_are_rejected(pattern):
    with pytest.raises(LogsInvalidParameter):
        compile_pattern(pattern)


@pytest.mark.parametrize("line", ["loss=0.25", "naïve loss=0.5 ✓", "", "x" * 300 + "loss=1", "no match here"])
def test_the_regex_fast_path_agrees_with_re2_search(line):
    import re2

    from emulator.logs.filter import _searcher
    for pattern in [r"loss=[0-9.]+", r"^loss", r"✓$", r"ï", r"(.|.)*Z", r""]:
        compiled = re2.compile(pattern)
        assert _searcher(compiled)(line) is (compiled.search(line) is not None), (pattern, line)
