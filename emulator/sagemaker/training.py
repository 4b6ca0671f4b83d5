"""Training jobs on the wire: CreateTrainingJob and StopTrainingJob (Describe and List are the shared
record handlers). The domain (``emulator.domain.training``) validates and writes the record; the job
runtime runs the job (``emulator.jobs.training_runner``).
"""

from __future__ import annotations

from typing import Any

from emulator.domain import training
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context
from emulator.handler_spec import OperationTable, in_thread


class TrainingOps:
    def __init__(self, ctx: Context, launcher: JobLauncher) -> None:
        self.ctx = ctx
        self.launcher = launcher

    def operations(self) -> OperationTable:
        return {"CreateTrainingJob": in_thread(self.create_training_job),
                "StopTrainingJob": in_thread(self.stop_training_job)}

    def create_training_job(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"TrainingJobArn": training.create(self.ctx, params, self.launcher)["TrainingJobArn"]}

    def stop_training_job(self, params: dict[str, Any]) -> dict[str, Any]:
        training.stop(self.ctx, params["TrainingJobName"], self.launcher)
        return {}
