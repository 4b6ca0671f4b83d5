"""The framework version of the AWS image a job asked for, when smlocal ran it in a newer local image
(the emulator sets ``SMLOCAL_FRAMEWORK_VERSION`` only then). The toolkit uses it to keep the differences
that scripts written for that version rely on (docs/images.md, "Older versions")."""

from __future__ import annotations

import os
import re


def requested() -> str:
    return os.environ.get("SMLOCAL_FRAMEWORK_VERSION", "")


def numbers(version: str) -> tuple[int, ...]:
    """'1.0-1' -> (1, 0, 1), '0.90-2' -> (0, 90, 2), '0.72' -> (0, 72)."""
    return tuple(int(part) for part in re.findall(r"\d+", version))


def before(major: int, minor: int) -> bool:
    """True when the job asked for a version older than major.minor (False when it asked for none)."""
    wanted = numbers(requested())
    return bool(wanted) and wanted[:2] < (major, minor)


def xgboost_legacy() -> bool:
    """AWS's XGBoost images before 1.3 (0.72 'latest', 0.90-x, 1.0-1, 1.2-x): they accepted `silent`, pickled
    the Booster, read a request without Content-Type as CSV and trained `tree_method=exact` on several
    instances (XGBoost of those days fell back to `approx` there)."""
    return before(1, 3)
