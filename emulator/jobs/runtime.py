"""Job runtime: the scheduler plus the runners, and recovery of jobs a previous run left behind."""

from __future__ import annotations

import logging
import time

from emulator.jobs import training_status as status
from emulator.jobs.scheduler import JobControl, Scheduler
from emulator.jobs.training_runner import JobServices, run_training_job
from emulator.sagemaker.families import TRAINING_JOB
from emulator.sagemaker.records import Records

log = logging.getLogger(__name__)


class JobRuntime:
    def __init__(self, services: JobServices) -> None:
        self.services = services
        self.scheduler = Scheduler(services.settings.max_concurrent_jobs)
        self.training = Records(services.ctx, TRAINING_JOB)

    # --- training ----------------------------------------------------------------------------------
    def launch_training(self, name: str, reattach: bool = False) -> JobControl:
        def run(control: JobControl) -> None:
            run_training_job(self.services, name, control, reattach)
        busy = self.scheduler.running() + self.scheduler.waiting() >= self.scheduler.max_concurrent
        if busy and not reattach:
            self.training.update(name, lambda r: status.transition(
                r, "Starting", time.time(), f"Waiting for a free job slot ({self.scheduler.max_concurrent} jobs "
                                            "run at once; SMLOCAL_MAX_CONCURRENT_JOBS)"))
        return self.scheduler.submit(f"training-job/{name.lower()}", run)

    def stop_training(self, name: str) -> None:
        control = self.scheduler.control(f"training-job/{name.lower()}")
        if control is not None:
            control.stop.set()

    # --- start-up ----------------------------------------------------------------------------------
    def recover(self) -> None:
        """Jobs that were running when the emulator stopped: reattach to their containers (found by
        label), start again those that never got as far as containers, and fail the rest with a
        reason. No job stays InProgress forever."""
        for record in self.services.ctx.store.all(TRAINING_JOB.kind, status.ACTIVE):
            name = record["TrainingJobName"]
            had_containers = bool(record.get("_smlocal", {}).get("containers"))
            log.info("recovering training job %s (%s, %s)", name, record["TrainingJobStatus"],
                     record.get("SecondaryStatus"))
            if had_containers or record["TrainingJobStatus"] == status.STOPPING:
                self.launch_training(name, reattach=had_containers)
            else:
                self.training.update(name, lambda r: status.transition(
                    r, "Starting", time.time(), "Restarting: smlocal stopped before the job's containers started"))
                self.launch_training(name)

    def shutdown(self) -> None:
        self.scheduler.shutdown()
