"""Models on the wire: CreateModel and DeleteModel (Describe and List are the shared record handlers)."""

from __future__ import annotations

from typing import Any

from emulator.domain import models
from emulator.domain.families import MODEL
from emulator.domain.records import Context, Records
from emulator.handler_spec import OperationTable, in_thread


class ModelOps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.models = Records(ctx, MODEL)

    def operations(self) -> OperationTable:
        return {"CreateModel": in_thread(self.create_model), "DeleteModel": in_thread(self.delete_model)}

    def create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ModelArn": models.create(self.ctx, params)["ModelArn"]}

    def delete_model(self, params: dict[str, Any]) -> dict[str, Any]:
        self.models.delete(params["ModelName"])
        return {}
