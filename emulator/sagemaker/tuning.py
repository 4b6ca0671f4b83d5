"""Hyperparameter tuning jobs on the wire: Create, Stop, Delete and ListTrainingJobsForHyperParameterTuningJob
(Describe and List are the shared record handlers). The domain (``emulator.domain.tuning``) validates and
writes the record; the job runtime runs the search (``emulator.jobs.tuning_runner``).
"""

from __future__ import annotations

from typing import Any

from emulator.domain import tuning
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context
from emulator.handler_spec import OperationTable, in_thread, on_loop


class TuningOps:
    def __init__(self, ctx: Context, launcher: JobLauncher) -> None:
        self.ctx = ctx
        self.launcher = launcher

    def operations(self) -> OperationTable:
        return {"CreateHyperParameterTuningJob": in_thread(self.create),
                "StopHyperParameterTuningJob": in_thread(self.stop),
                "DeleteHyperParameterTuningJob": in_thread(self.delete),
                "ListTrainingJobsForHyperParameterTuningJob": on_loop(self.list_training_jobs)}

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        record = tuning.create(self.ctx, params, self.launcher)
        return {"HyperParameterTuningJobArn": record["HyperParameterTuningJobArn"]}

    def stop(self, params: dict[str, Any]) -> dict[str, Any]:
        tuning.stop(self.ctx, params["HyperParameterTuningJobName"], self.launcher)
        return {}

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        tuning.delete(self.ctx, params["HyperParameterTuningJobName"])
        return {}

    def list_training_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        return tuning.list_training_jobs(self.ctx, params)
