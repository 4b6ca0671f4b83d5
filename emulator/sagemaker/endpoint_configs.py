"""Endpoint configurations on the wire: Create and Delete (Describe and List are the shared record handlers)."""

from __future__ import annotations

from typing import Any

from emulator.domain import endpoint_configs
from emulator.domain.families import ENDPOINT_CONFIG
from emulator.domain.records import Context, Records
from emulator.handler_spec import OperationTable, in_thread


class EndpointConfigOps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.configs = Records(ctx, ENDPOINT_CONFIG)

    def operations(self) -> OperationTable:
        return {"CreateEndpointConfig": in_thread(self.create_endpoint_config),
                "DeleteEndpointConfig": in_thread(self.delete_endpoint_config)}

    def create_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"EndpointConfigArn": endpoint_configs.create(self.ctx, params)["EndpointConfigArn"]}

    def delete_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        self.configs.delete(params["EndpointConfigName"])
        return {}
