"""Transform jobs on the wire: CreateTransformJob and StopTransformJob (Describe and List are the
shared record handlers). The domain (``emulator.domain.transform``) validates and writes the record;
the job runtime runs the job (``emulator.jobs.transform_runner``).
"""

from __future__ import annotations

from typing import Any

from emulator.domain import transform
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context
from emulator.handler_spec import OperationTable, in_thread


class TransformOps:
    def __init__(self, ctx: Context, launcher: JobLauncher) -> None:
        self.ctx = ctx
        self.launcher = launcher

    def operations(self) -> OperationTable:
        return {"CreateTransformJob": in_thread(self.create_transform_job),
                "StopTransformJob": in_thread(self.stop_transform_job)}

    def create_transform_job(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"TransformJobArn": transform.create(self.ctx, params, self.launcher)["TransformJobArn"]}

    def stop_transform_job(self, params: dict[str, Any]) -> dict[str, Any]:
        transform.stop(self.ctx, params["TransformJobName"], self.launcher)
        return {}
