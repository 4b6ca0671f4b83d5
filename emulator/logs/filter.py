"""CloudWatch Logs filter patterns for unstructured log lines.

Supported (the forms used on plain text logs): ``""`` (everything), space-separated terms that
must all appear (``ERROR Exception``), quoted phrases (``"epoch 3"``), ``?term`` alternatives
(any of them), ``-term`` exclusions, and ``%regex%``. Matching is case-sensitive, as in
CloudWatch. ``%regex%`` runs on RE2 (linear time in the line's length whatever the pattern, so a
pattern such as ``%(.|.)*Z%`` cannot stall the gateway as a backtracking engine would); RE2 has no
back-references or look-arounds, which CloudWatch's regex syntax lacks too. JSON (``{ $.x = 1 }``)
and space-delimited (``[a, b]``) patterns are rejected with a clear InvalidParameterException rather
than silently matching nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable

import re2

from emulator.errors import LogsInvalidParameter

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False          # a bad pattern is the caller's error, not a line in smlocal's log
_RE2_OPTIONS.max_mem = 8 << 20           # the compiled program's memory (RE2's default)


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    pattern = pattern.strip()
    if not pattern:
        return lambda message: True
    if pattern.startswith("{") or pattern.startswith("["):
        raise LogsInvalidParameter(
            "Invalid filter pattern: smlocal supports term, phrase, ?alternative, -exclusion and "
            "%regex% patterns, not JSON or space-delimited patterns.")
    if len(pattern) > 2 and pattern.startswith("%") and pattern.endswith("%"):
        try:
            compiled = re2.compile(pattern[1:-1], _RE2_OPTIONS)
        except re2.error as exc:
            reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else exc
            raise LogsInvalidParameter(f"Invalid filter pattern regex: {reason}") from None
        return _searcher(compiled)
    try:
        terms = shlex.split(pattern, posix=True)
    except ValueError:
        raise LogsInvalidParameter("Invalid filter pattern: unbalanced quotes.") from None
    required = [t for t in terms if not t.startswith(("?", "-")) or len(t) == 1]
    optional = [t[1:] for t in terms if t.startswith("?") and len(t) > 1]
    excluded = [t[1:] for t in terms if t.startswith("-") and len(t) > 1]

    def matches(message: str) -> bool:
        if any(term in message for term in excluded):
            return False
        if required and not all(term in message for term in required):
            return False
        return not optional or any(term in message for term in optional)

    return matches


def _searcher(compiled: re2._Regexp) -> Callable[[str], bool]:
    """``compiled`` finds a match somewhere in a line. The binding's ``search`` maps byte offsets back to
    characters and builds a match object, ten times the cost of the match itself on short log lines
    (bench/hardening_costs.py); only a yes or no is needed here, so the compiled program is asked
    directly when the binding exposes it (the same UTF-8 bytes ``search`` would give it)."""
    match = getattr(getattr(compiled, "_regexp", None), "Match", None)
    anchor = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if match is None or anchor is None:
        return lambda message: compiled.search(message) is not None

    def found(message: str) -> bool:
        data = message.encode("utf-8", "replace")
        return bool(match(anchor, data, 0, len(data))[0][0] != -1)
    return found
