"""Endpoints on the wire: CreateEndpoint, UpdateEndpoint, UpdateEndpointWeightsAndCapacities and
DeleteEndpoint (Describe and List are the shared record handlers). The domain
(``emulator.domain.endpoints``) validates and moves the record; the hosting runtime deploys.
"""

from __future__ import annotations

from typing import Any

from emulator.domain import endpoints
from emulator.domain.ports import EndpointDeployer
from emulator.domain.records import Context
from emulator.handler_spec import OperationTable, in_thread


class EndpointOps:
    def __init__(self, ctx: Context, deployer: EndpointDeployer) -> None:
        self.ctx = ctx
        self.deployer = deployer

    def operations(self) -> OperationTable:
        return {"CreateEndpoint": in_thread(self.create_endpoint),
                "UpdateEndpoint": in_thread(self.update_endpoint),
                "UpdateEndpointWeightsAndCapacities": in_thread(self.update_endpoint_weights_and_capacities),
                "DeleteEndpoint": in_thread(self.delete_endpoint)}

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"EndpointArn": endpoints.create(self.ctx, params, self.deployer)["EndpointArn"]}

    def delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        endpoints.delete(self.ctx, params["EndpointName"], self.deployer)
        return {}

    def update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"EndpointArn": endpoints.update(self.ctx, params, self.deployer)["EndpointArn"]}

    def update_endpoint_weights_and_capacities(self, params: dict[str, Any]) -> dict[str, Any]:
        record = endpoints.update_weights_and_capacities(self.ctx, params, self.deployer)
        return {"EndpointArn": record["EndpointArn"]}
