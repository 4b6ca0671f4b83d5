"""The job kinds smlocal runs: one row per kind, and the job runtime, the composition root and
restart recovery loop over this table. Adding a job kind is one runner module plus one row here
(and the domain's create function and the wire handler for its API).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.domain import training_status
from emulator.domain.families import PIPELINE_EXECUTION, PROCESSING_JOB, TRAINING_JOB, TRANSFORM_JOB, TUNING_JOB, Family
from emulator.domain.lifecycle import BY_FAMILY, JobLifecycle
from emulator.jobs.container_job import JobServices
from emulator.jobs.pipeline_runner import run_pipeline_execution
from emulator.jobs.processing_runner import run_processing_job
from emulator.jobs.scheduler import JobControl
from emulator.jobs.training_runner import run_training_job
from emulator.jobs.transform_runner import run_transform_job
from emulator.jobs.tuning_runner import run_tuning_job

Runner = Callable[[JobServices, str, JobControl, bool], None]   # (services, name, control, reattach)


def _starting_message(record: dict[str, Any], message: str) -> None:
    training_status.transition(record, "Starting", time.time(), message)


@dataclass(frozen=True)
class JobKind:
    family: Family
    run: Runner
    # how a job of this kind shows why it has not started yet (waiting for a slot, restarting);
    # None: the family has nowhere to show it (no SecondaryStatus)
    show_waiting: Callable[[dict[str, Any], str], None] | None = None
    # False: the runner starts no containers, only other jobs (tuning); it runs on its own thread and
    # takes no job slot, so the jobs it starts never wait behind it (scheduler.Scheduler.spawn)
    pooled: bool = True

    @property
    def lifecycle(self) -> JobLifecycle:
        return BY_FAMILY[self.family.kind]

    def key(self, name: str) -> str:
        return f"{self.family.kind}/{name.lower()}"


KINDS: tuple[JobKind, ...] = (
    JobKind(TRAINING_JOB, run_training_job, show_waiting=_starting_message),
    JobKind(PROCESSING_JOB, run_processing_job),
    JobKind(TRANSFORM_JOB, run_transform_job),
    JobKind(TUNING_JOB, run_tuning_job, pooled=False),
    JobKind(PIPELINE_EXECUTION, run_pipeline_execution, pooled=False),
)
BY_KIND = {kind.family.kind: kind for kind in KINDS}
