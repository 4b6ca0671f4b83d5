"""CloudWatch Logs filter patterns for unstructured log lines.

Supported (the forms used on plain text logs): ``""`` (everything), space-separated terms that
must all appear (``ERROR Exception``), quoted phrases (``"epoch 3"``), ``?term`` alternatives
(any of them), ``-term`` exclusions, and ``%regex%``. Matching is case-sensitive, as in
CloudWatch. JSON (``{ $.x = 1 }``) and space-delimited (``[a, b]``) patterns are rejected with a
clear InvalidParameterException rather than silently matching nothing.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable

from emulator.errors import LogsInvalidParameter


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
            compiled = re.compile(pattern[1:-1])
        except re.error as exc:
            raise LogsInvalidParameter(f"Invalid filter pattern regex: {exc}") from None
        return lambda message: compiled.search(message) is not None
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
