"""What every job family does the same way: insert the record and start it, stop it."""

from __future__ import annotations

import time
from typing import Any

from emulator.domain.lifecycle import JobLifecycle
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context, Records


def insert_and_launch(ctx: Context, lifecycle: JobLifecycle, record: dict[str, Any],
                      tags: list[dict[str, str]] | None, jobs: JobLauncher) -> dict[str, Any]:
    """Write a validated job record (a duplicate name raises the family's error) and hand the job to
    the runtime, which runs it in the background. Returns the record as written."""
    family = lifecycle.family
    created = Records(ctx, family).create(record[family.name_field], record, tags)
    jobs.launch(family, created[family.name_field])
    return created


def stop(ctx: Context, lifecycle: JobLifecycle, name: str, jobs: JobLauncher) -> dict[str, Any]:
    """Stop<Job>: the record moves to Stopping at once (refused once the job ended), then the runtime
    stops its containers and ends it Stopped."""
    family = lifecycle.family
    record = Records(ctx, family).update(name, lambda r: lifecycle.request_stop(r, time.time()))
    jobs.stop(family, record[family.name_field])
    return record
