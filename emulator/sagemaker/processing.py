"""Processing jobs on the wire: CreateProcessingJob and StopProcessingJob (Describe and List are the
shared record handlers). The domain (``emulator.domain.processing``) validates and writes the record;
the job runtime runs the job (``emulator.jobs.processing_runner``).
"""

from __future__ import annotations

from typing import Any

from emulator.domain import processing
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context
from emulator.handler_spec import OperationTable, in_thread


class ProcessingOps:
    def __init__(self, ctx: Context, launcher: JobLauncher) -> None:
        self.ctx = ctx
        self.launcher = launcher

    def operations(self) -> OperationTable:
        return {"CreateProcessingJob": in_thread(self.create_processing_job),
                "StopProcessingJob": in_thread(self.stop_processing_job)}

    def create_processing_job(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ProcessingJobArn": processing.create(self.ctx, params, self.launcher)["ProcessingJobArn"]}

    def stop_processing_job(self, params: dict[str, Any]) -> dict[str, Any]:
        processing.stop(self.ctx, params["ProcessingJobName"], self.launcher)
        return {}
