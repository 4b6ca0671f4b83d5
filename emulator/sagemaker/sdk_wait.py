"""Short jobs return promptly from unmodified SageMaker SDK code.

The SDK's waiting loops, not the jobs, dominate local runs: ``fit()`` sleeps 5 s, describes the job
once, and if it is still running only looks again every 30 s (``Processor.run()`` and
``transform()`` likewise after 10 s). So the first Describe* of a job that the SDK sends soon after
creating it is held (up to ``SMLOCAL_SDK_DESCRIBE_WAIT``, default 60 s) until the job has finished:
a job that ends within that window is reported finished at once, and ``fit()`` returns with it.

Why only that one Describe, only for the SDK, and 60 s:
- later Describes keep the SDK's own cadence (5/35/65/95 s ... for ``fit()``): holding the first one for
  a multiple of 30 s lands exactly on that cadence, so a longer job is never noticed later than
  without the wait;
- boto3 code, the AWS CLI, waiters and UIs (any other User-Agent) are answered at once, as SageMaker
  does; so is every Describe after the first, and any Describe of a job older than ``RECENT`` seconds;
- the cost: SDK code that describes a job it has just created, expecting ``InProgress`` (``fit(wait=
  False)`` then an immediate ``describe()``), waits up to the window. ``SMLOCAL_SDK_DESCRIBE_WAIT=0``
  turns this off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from emulator import caller
from emulator.domain.families import Family
from emulator.domain.lifecycle import ACTIVE
from emulator.handler_spec import HandlerSpec, blocking

RECENT = 20.0   # seconds after Create in which a first Describe counts as the SDK's first look
POLL = 0.05


class FirstDescribeWait:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def _first_look(self, arn: str) -> bool:
        with self._lock:
            if arn in self._seen:
                return False
            self._seen.add(arn)
            if len(self._seen) > 100_000:  # bounded memory for long-lived emulators
                self._seen.clear()
            return True

    def wrap(self, family: Family, describe: Callable[[dict[str, Any]], dict[str, Any]]) -> HandlerSpec:
        """A Describe handler that holds the SDK's first look at a running job until it ends. It sleeps,
        so it is ``blocking``: always in a worker thread, never on the event loop."""
        status_field, arn_field = family.status_field or "", family.arn_field

        def answered_at_once(record: dict[str, Any]) -> bool:
            return (self.seconds <= 0 or not caller.is_sdk() or record.get(status_field) not in ACTIVE
                    or time.time() - float(record.get("CreationTime", 0)) > RECENT
                    or record[arn_field] in self._seen)

        def quick(params: dict[str, Any]) -> dict[str, Any] | None:
            """On the event loop: the record, unless this is a look the hold may keep (then the thread)."""
            record = describe(params)
            return record if answered_at_once(record) else None

        def handler(params: dict[str, Any]) -> dict[str, Any]:
            record = describe(params)
            if (self.seconds <= 0 or not caller.is_sdk() or record.get(status_field) not in ACTIVE
                    or time.time() - float(record.get("CreationTime", 0)) > RECENT
                    or not self._first_look(record[arn_field])):
                return record
            deadline = time.monotonic() + self.seconds
            while record.get(status_field) in ACTIVE and time.monotonic() < deadline:
                time.sleep(POLL)
                record = describe(params)
            return record
        return blocking(handler, quick)
