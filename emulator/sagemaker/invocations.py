"""InvokeEndpoint routing: which endpoint (and later, which container) answers a request.

The runtime resolves names case-sensitively, unlike the control plane: "the case is preserved
and must be matched in InvokeEndpoint" (CreateEndpoint's documentation).
"""

from __future__ import annotations

from typing import Any

from emulator.errors import RuntimeValidationError
from emulator.sagemaker.families import ENDPOINT
from emulator.sagemaker.records import Context, Records


class InvocationOps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.endpoints = Records(ctx, ENDPOINT)

    def _not_found(self, name: str) -> RuntimeValidationError:
        return RuntimeValidationError(
            f"Endpoint {name} of account {self.ctx.settings.account_id} not found.")

    def _endpoint(self, name: str) -> dict[str, Any]:
        record = self.endpoints.find(name)
        if record is None or record["EndpointName"] != name:
            raise self._not_found(name)
        return record

    def invoke_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        self._endpoint(params["EndpointName"])
        # Endpoints exist only once hosting serves them; until then every name is unknown.
        raise self._not_found(params["EndpointName"])

    # The async and streaming variants resolve endpoints the same way.
    invoke_endpoint_async = invoke_endpoint
    invoke_endpoint_with_response_stream = invoke_endpoint
