"""Job runtime: the scheduler plus the runners, and recovery of jobs a previous run left behind."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from emulator.jobs import training_status as status
from emulator.jobs.container_job import ACTIVE, STOPPING, JobServices
from emulator.jobs.processing_runner import run_processing_job
from emulator.jobs.scheduler import JobControl, Scheduler
from emulator.jobs.training_runner import run_training_job
from emulator.jobs.transform_runner import run_transform_job
from emulator.sagemaker.families import PROCESSING_JOB, TRAINING_JOB, TRANSFORM_JOB
from emulator.sagemaker.records import Records

log = logging.getLogger(__name__)


class JobRuntime:
    def __init__(self, services: JobServices) -> None:
        self.services = services
        self.scheduler = Scheduler(services.settings.max_concurrent_jobs)
        self.training = Records(services.ctx, TRAINING_JOB)
        self.processing = Records(services.ctx, PROCESSING_JOB)

    def _busy(self) -> bool:
        return self.scheduler.running() + self.scheduler.waiting() >= self.scheduler.max_concurrent

    def _submit(self, kind: str, name: str, runner: Callable[..., None], reattach: bool) -> JobControl:
        def run(control: JobControl) -> None:
            runner(self.services, name, control, reattach)
        return self.scheduler.submit(f"{kind}/{name.lower()}", run)

    def _stop(self, kind: str, name: str) -> None:
        control = self.scheduler.control(f"{kind}/{name.lower()}")
        if control is not None:
            control.stop.set()

    # --- training ----------------------------------------------------------------------------------
    def launch_training(self, name: str, reattach: bool = False) -> JobControl:
        if self._busy() and not reattach:
            self.training.update(name, lambda r: status.transition(
                r, "Starting", time.time(), f"Waiting for a free job slot ({self.scheduler.max_concurrent} jobs "
                                            "run at once; SMLOCAL_MAX_CONCURRENT_JOBS)"))
        return self._submit(TRAINING_JOB.kind, name, run_training_job, reattach)

    def stop_training(self, name: str) -> None:
        self._stop(TRAINING_JOB.kind, name)

    # --- processing (no secondary status to show a wait in) ------------------------------------------
    def launch_processing(self, name: str, reattach: bool = False) -> JobControl:
        return self._submit(PROCESSING_JOB.kind, name, run_processing_job, reattach)

    def stop_processing(self, name: str) -> None:
        self._stop(PROCESSING_JOB.kind, name)

    # --- transform ----------------------------------------------------------------------------------
    def launch_transform(self, name: str, reattach: bool = False) -> JobControl:
        return self._submit(TRANSFORM_JOB.kind, name, run_transform_job, reattach)

    def stop_transform(self, name: str) -> None:
        self._stop(TRANSFORM_JOB.kind, name)

    # --- start-up ----------------------------------------------------------------------------------
    def recover(self) -> None:
        """Jobs that were running when the emulator stopped: reattach to their containers (found by
        label), start again those that never got as far as containers, and fail the rest with a
        reason. No job stays InProgress forever."""
        for record in self.services.ctx.store.all(TRAINING_JOB.kind, ACTIVE):
            name = record["TrainingJobName"]
            had_containers = self._log_recovery(record, TRAINING_JOB.status_field)
            if had_containers or record["TrainingJobStatus"] == STOPPING:
                self.launch_training(name, reattach=had_containers)
            else:
                self.training.update(name, lambda r: status.transition(
                    r, "Starting", time.time(), "Restarting: smlocal stopped before the job's containers started"))
                self.launch_training(name)
        for record in self.services.ctx.store.all(PROCESSING_JOB.kind, ACTIVE):
            had_containers = self._log_recovery(record, PROCESSING_JOB.status_field)
            self.launch_processing(record["ProcessingJobName"], reattach=had_containers)
        for record in self.services.ctx.store.all(TRANSFORM_JOB.kind, ACTIVE):
            had_containers = self._log_recovery(record, TRANSFORM_JOB.status_field)
            self.launch_transform(record["TransformJobName"], reattach=had_containers)

    @staticmethod
    def _log_recovery(record: dict[str, Any], status_field: str | None) -> bool:
        log.info("recovering %s (%s)", (record.get("TrainingJobName") or record.get("ProcessingJobName")
                                                       or record.get("TransformJobName")),
                 record.get(status_field or ""))
        return bool(record.get("_smlocal", {}).get("containers"))

    def shutdown(self) -> None:
        self.scheduler.shutdown()
