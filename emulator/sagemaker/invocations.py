"""InvokeEndpoint: the endpoint's live route picks a variant (by weight, or TargetVariant) and an
instance (round robin); the request goes to its container(s) over pooled keep-alive connections.

The runtime resolves names case-sensitively, unlike the control plane: "the case is preserved
and must be matched in InvokeEndpoint" (CreateEndpoint's documentation). A container's non-2xx
answer becomes ``ModelError`` (424) with SageMaker's message, OriginalStatusCode/Message and the
log group's ARN. This handler is a coroutine: the gateway awaits it on its event loop, so the
proxy adds no thread hop.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from emulator.domain.families import ENDPOINT
from emulator.domain.records import Context, Records
from emulator.errors import ModelError, RuntimeValidationError
from emulator.handler_spec import OperationTable, awaited, in_thread
from emulator.hosting.routing import Route, Target, VariantRoute
from emulator.infra.upstream import UpstreamError, UpstreamPool, UpstreamResponse

TIMEOUT_SECONDS = 60.0            # SageMaker's limit for a container's answer
RECOVERY_WAIT_SECONDS = 60.0      # after a restart, invocations wait for endpoints coming back
# request members passed to the container as the headers SageMaker uses
FORWARDED = (("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
             ("TargetVariant", "X-Amzn-SageMaker-Target-Variant"),
             ("InferenceId", "X-Amzn-SageMaker-Inference-Id"),
             ("EnableExplanations", "X-Amzn-SageMaker-Enable-Explanations"))


class Routes(Protocol):
    recovering: set[str]

    def route(self, name: str) -> Route | None: ...


class InvocationOps:
    def __init__(self, ctx: Context, routes: Routes | None = None) -> None:
        self.ctx = ctx
        self.endpoints = Records(ctx, ENDPOINT)
        self.routes = routes
        self.pool = UpstreamPool()
        region, account = ctx.settings.region, ctx.settings.account_id
        self._console = (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
                         "#logEventViewer:group=/aws/sagemaker/Endpoints/{name} in account " + account)
        self._group_arn = f"arn:aws:logs:{region}:{account}:log-group:/aws/sagemaker/Endpoints/" + "{name}"


    def operations(self) -> OperationTable:
        return {"InvokeEndpoint": awaited(self.invoke_endpoint),
                "InvokeEndpointAsync": in_thread(self.invoke_endpoint_async),
                "InvokeEndpointWithResponseStream": in_thread(self.invoke_endpoint_with_response_stream)}
    def _not_found(self, name: str) -> RuntimeValidationError:
        return RuntimeValidationError(
            f"Endpoint {name} of account {self.ctx.settings.account_id} not found.")

    def _exists(self, name: str) -> dict[str, Any]:
        record = self.endpoints.find(name)
        if record is None or record["EndpointName"] != name:
            raise self._not_found(name)
        return record

    async def _route(self, name: str) -> Route:
        route = self.routes.route(name) if self.routes else None
        if route is not None:
            return route
        if self.routes is not None and name in self.routes.recovering:
            deadline = asyncio.get_running_loop().time() + RECOVERY_WAIT_SECONDS
            while name in self.routes.recovering and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
                route = self.routes.route(name)
                if route is not None:
                    return route
        raise self._not_found(name)

    async def invoke_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params["EndpointName"]
        route = await self._route(name)
        if params.get("TargetModel"):
            raise RuntimeValidationError(
                f"Endpoint {name} is not a multi-model endpoint and does not support target model header.")
        variant = route.variant(params.get("TargetVariant"))
        if variant is None:
            if params.get("TargetVariant"):
                raise RuntimeValidationError(
                    f"Endpoint {name} has no production variant named {params['TargetVariant']}.")
            raise RuntimeValidationError(f"Endpoint {name} has no production variant with a weight above 0 "
                                         "(UpdateEndpointWeightsAndCapacities); use TargetVariant.")
        containers = self._containers(name, variant, params.get("TargetContainerHostname"))
        headers = [(header, params[member]) for member, header in FORWARDED if member in params]
        body: bytes = params.get("Body") or b""
        content_type = params.get("ContentType")
        route.inflight += 1
        try:
            response_type, attributes = content_type, None
            out = body
            for index, target in enumerate(containers):
                sent = list(headers)
                if response_type:
                    sent.append(("Content-Type", response_type))
                if index == len(containers) - 1 and params.get("Accept"):
                    sent.append(("Accept", params["Accept"]))
                response = await self._send(name, target, sent, out)
                out = response.body
                response_type = response.headers.get("content-type")
                attributes = response.headers.get("x-amzn-sagemaker-custom-attributes")
        finally:
            route.inflight -= 1
        if route.capture is not None and route.capture.sampled():
            route.capture.record(variant.name, body, content_type, out, response_type,
                                 params.get("InferenceId"), params.get("CustomAttributes"))
        result: dict[str, Any] = {"Body": out, "ContentType": response_type or "application/octet-stream",
                                  "InvokedProductionVariant": variant.name}
        if attributes is not None:
            result["CustomAttributes"] = attributes
        return result

    def _containers(self, name: str, variant: VariantRoute, hostname: str | None) -> list[Target]:
        containers = variant.next_instance().containers
        if variant.mode == "Direct":
            if not hostname:
                raise RuntimeValidationError(
                    f"Endpoint {name} invokes its containers directly: TargetContainerHostname is required.")
            chosen = [t for t in containers if t.hostname == hostname]
            if not chosen:
                raise RuntimeValidationError(
                    f"Endpoint {name} has no container with hostname {hostname}.")
            return chosen
        if hostname:
            raise RuntimeValidationError(
                f"Endpoint {name} is not a multi-container endpoint with direct invocation; "
                "TargetContainerHostname is not supported.")
        return containers

    async def _send(self, name: str, target: Target, headers: list[tuple[str, str]], body: bytes
                    ) -> UpstreamResponse:
        try:
            response = await self.pool.request(target.host, target.port, "POST", "/invocations", headers, body,
                                               timeout=TIMEOUT_SECONDS)
        except (asyncio.TimeoutError, TimeoutError):
            raise self._model_error(
                name, target, 0, f"Your invocation timed out while waiting for a response from container "
                                 f"{target.hostname}. Review the latency metrics for each container in Amazon "
                                 "CloudWatch, resolve the issue, and try again.") from None
        except UpstreamError as exc:
            raise self._model_error(name, target, 0, f"The container {target.hostname} did not answer: {exc}") \
                from None
        if not 200 <= response.status < 300:
            raise self._model_error(name, target, response.status, response.body.decode("utf-8", "replace"))
        return response

    def _model_error(self, name: str, target: Target, status: int, text: str) -> ModelError:
        kind = "client" if 400 <= status < 500 else "server"
        message = (f'Received {kind} error ({status}) from {target.hostname} with message "{text}". '
                   f"See {self._console.format(name=name)} for more information.")
        return ModelError(message, OriginalStatusCode=status, OriginalMessage=text,
                          LogStreamArn=self._group_arn.format(name=name))

    def invoke_endpoint_async(self, params: dict[str, Any]) -> dict[str, Any]:
        self._exists(params["EndpointName"])
        raise RuntimeValidationError(
            f"Endpoint {params['EndpointName']} is not configured for asynchronous inference: smlocal serves "
            "real-time endpoints only (CreateEndpointConfig rejects AsyncInferenceConfig); use InvokeEndpoint.")

    def invoke_endpoint_with_response_stream(self, params: dict[str, Any]) -> dict[str, Any]:
        self._exists(params["EndpointName"])
        raise RuntimeValidationError(
            f"Endpoint {params['EndpointName']}: smlocal does not stream responses "
            "(InvokeEndpointWithResponseStream); use InvokeEndpoint.")
