"""SageMaker Pipelines on the wire: pipelines, their executions and steps. The domain
(``emulator.domain.pipelines``) validates and writes the records; the job runtime runs each execution
(``emulator.jobs.pipeline_runner``). The SageMaker SDK's ``execution.wait()`` polls
DescribePipelineExecution through a botocore waiter every 30 s: its Describes are held while the
execution runs (``PipelineDescribeHold``, docs/pipelines.md)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from emulator import caller
from emulator.domain import pipelines
from emulator.domain.lifecycle import PIPELINE_RUN
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context
from emulator.errors import ValidationException
from emulator.handler_spec import HandlerSpec, OperationTable, blocking, in_thread, on_loop

ReadObject = Callable[[str, str, "str | None"], bytes]    # (bucket, key, version) -> bytes
HOLD_LIMIT = 50.0    # below botocore's 60 s read timeout, which the SDK's client keeps
POLL = 0.1


class PipelineDescribeHold:
    """Holds the SDK waiter's DescribePipelineExecution of a running execution until it ends or ``seconds`` pass.

    ``execution.wait()`` describes at once, then every 30 s: held, a short pipeline's end is answered
    as it happens. Only the waiter's polls are held (botocore marks them in the User-Agent): the SDK's
    ``execution.describe()``, boto3, the AWS CLI and the console are answered at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = min(max(seconds, 0.0), HOLD_LIMIT)
        self._waiting = 0
        self._lock = threading.Lock()

    def wrap(self, describe: Callable[[dict[str, Any]], dict[str, Any]]) -> HandlerSpec:
        def handler(params: dict[str, Any]) -> dict[str, Any]:
            record = describe(params)
            held = caller.is_sdk() and caller.is_waiter()
            if self.seconds <= 0 or not held or not PIPELINE_RUN.is_active(record):
                return record
            deadline = time.monotonic() + self.seconds
            while PIPELINE_RUN.is_active(record) and time.monotonic() < deadline:
                time.sleep(POLL)
                record = describe(params)
            return record
        return blocking(handler)


class PipelineOps:
    def __init__(self, ctx: Context, launcher: JobLauncher, read_object: ReadObject,
                 hold: PipelineDescribeHold) -> None:
        self.ctx = ctx
        self.launcher = launcher
        self.read_object = read_object
        self.hold = hold

    def operations(self) -> OperationTable:
        return {"CreatePipeline": in_thread(self.create), "UpdatePipeline": in_thread(self.update),
                "DescribePipeline": on_loop(self.describe), "ListPipelines": on_loop(self.list_pipelines),
                "DeletePipeline": in_thread(self.delete),
                "StartPipelineExecution": in_thread(self.start),
                "DescribePipelineExecution": self.hold.wrap(self.describe_execution),
                "ListPipelineExecutions": on_loop(self.list_executions),
                "ListPipelineExecutionSteps": on_loop(self.list_steps),
                "ListPipelineParametersForExecution": on_loop(self.list_parameters),
                "DescribePipelineDefinitionForExecution": on_loop(self.definition_for_execution),
                "StopPipelineExecution": in_thread(self.stop), "RetryPipelineExecution": in_thread(self.retry),
                "UpdatePipelineExecution": in_thread(self.update_execution)}

    def _definition(self, params: dict[str, Any], required: bool) -> str | None:
        inline, location = params.get("PipelineDefinition"), params.get("PipelineDefinitionS3Location")
        if inline is not None and location is not None:
            raise ValidationException("Specify either PipelineDefinition or PipelineDefinitionS3Location, not both.")
        if location is not None:
            data = self.read_object(location["Bucket"], location["ObjectKey"], location.get("VersionId"))
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationException("The pipeline definition in S3 is not UTF-8 text.") from None
        if inline is None and required:
            raise ValidationException("Either PipelineDefinition or PipelineDefinitionS3Location must be specified.")
        return str(inline) if inline is not None else None

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        definition = self._definition(params, required=True)
        assert definition is not None
        record = pipelines.create(self.ctx, params, definition)
        return {"PipelineArn": record["PipelineArn"]}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.update(self.ctx, params, self._definition(params, required=False))

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.describe(self.ctx, params)

    def list_pipelines(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.list_pipelines(self.ctx, params)

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.delete(self.ctx, params)

    def start(self, params: dict[str, Any]) -> dict[str, Any]:
        record = pipelines.start(self.ctx, params, self.launcher)
        return {"PipelineExecutionArn": record["PipelineExecutionArn"]}

    def describe_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.describe_execution(self.ctx, params["PipelineExecutionArn"])

    def list_executions(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.list_executions(self.ctx, params)

    def list_steps(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.list_steps(self.ctx, params)

    def list_parameters(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.list_parameters(self.ctx, params)

    def definition_for_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.definition_for_execution(self.ctx, params["PipelineExecutionArn"])

    def stop(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.stop(self.ctx, params["PipelineExecutionArn"], self.launcher)

    def retry(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.retry(self.ctx, params, self.launcher)

    def update_execution(self, params: dict[str, Any]) -> dict[str, Any]:
        return pipelines.update_execution(self.ctx, params)
