"""What the console changes: Stop a job, delete an endpoint, invoke an endpoint.

Each action calls the emulator's own operation table in-process (validation, the handler, SageMaker's
errors), exactly what an API call would run, without HTTP or signatures; so a console Stop behaves
like ``StopTrainingJob`` and is refused with SageMaker's message where the API would refuse it.
The checks that the request really comes from the console (Host, token, origin) happen before any
of these is called (``emulator.console.security``).
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from emulator.errors import ServiceError

PREVIEW_BYTES = 64 * 1024     # of an answer shown in the invocation panel


@dataclass
class Outcome:
    ok: bool
    message: str
    code: str = ""


@dataclass
class Invocation:
    status: int                 # the HTTP status InvokeEndpoint answered with
    latency_ms: float
    content_type: str = ""
    body: str = ""
    body_encoding: str = "text"  # text | base64
    body_bytes: int = 0
    truncated: bool = False
    variant: str = ""
    error_code: str = ""
    error_message: str = ""


class ConsoleActions:
    def __init__(self, services: dict[str, Any]) -> None:
        self.services = services      # botocore service name -> emulator.api.dispatch.Service

    async def _call(self, service: str, operation: str, params: dict[str, Any], done: str) -> Outcome:
        try:
            await run_in_threadpool(self.services[service].call, operation, params)
        except ServiceError as exc:
            return Outcome(False, exc.message, exc.code)
        return Outcome(True, done)

    async def stop_job(self, noun: str, name: str) -> Outcome:
        """``Stop<noun>`` (StopTrainingJob, StopProcessingJob, StopTransformJob)."""
        return await self._call("sagemaker", f"Stop{noun}", {f"{noun}Name": name},
                                "Stop requested: the job stops within the stop grace period.")

    async def delete_endpoint(self, name: str) -> Outcome:
        return await self._call("sagemaker", "DeleteEndpoint", {"EndpointName": name},
                                f"Deleting endpoint {name}.")

    async def invoke(self, name: str, body: bytes, content_type: str, accept: str,
                     target_variant: str = "") -> Invocation:
        params: dict[str, Any] = {"EndpointName": name, "Body": body}
        if content_type:
            params["ContentType"] = content_type
        if accept:
            params["Accept"] = accept
        if target_variant:
            params["TargetVariant"] = target_variant
        started = time.perf_counter()
        try:
            _, result = await self.services["sagemaker-runtime"].acall("InvokeEndpoint", params)
        except ServiceError as exc:
            latency = (time.perf_counter() - started) * 1000
            return Invocation(exc.status, latency, error_code=exc.code, error_message=exc.message,
                              body=str(exc.fields.get("OriginalMessage", "")))
        latency = (time.perf_counter() - started) * 1000
        answer: bytes = result.get("Body") or b""
        shown = answer[:PREVIEW_BYTES]
        try:
            text, encoding = shown.decode("utf-8"), "text"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(shown).decode(), "base64"
        return Invocation(200, latency, result.get("ContentType", ""), text, encoding, len(answer),
                          len(answer) > PREVIEW_BYTES, result.get("InvokedProductionVariant", ""))

    async def stop_pipeline_execution(self, arn: str) -> Outcome:
        return await self._call("sagemaker", "StopPipelineExecution", {"PipelineExecutionArn": arn,
                                                                          "ClientRequestToken": str(uuid.uuid4())},
                                "Stop requested: running steps are stopped, then the execution is Stopped.")

    async def set_approval(self, arn: str, status: str) -> Outcome:
        """``UpdateModelPackage`` with a new ModelApprovalStatus."""
        return await self._call("sagemaker", "UpdateModelPackage",
                                {"ModelPackageArn": arn, "ModelApprovalStatus": status},
                                f"Model package is now {status}.")
