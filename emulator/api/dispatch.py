"""The operation table: botocore operation name -> handler, built once per service.

A provider is any object whose methods are named after operations in snake case
(``CreateModel`` -> ``create_model``), taking validated params and returning a plain dict.
Describe*/List* of every resource family are served by the shared record plumbing unless a
provider defines its own.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel, ServiceModel
from starlette.concurrency import run_in_threadpool

from emulator.api.models import service_model
from emulator.api.validate import validate
from emulator.errors import ServiceError, UnknownOperationException, ValidationException

Handler = Callable[[dict[str, Any]], dict[str, Any]]
log = logging.getLogger(__name__)


def inline(handler: Handler) -> Handler:
    """Marks a handler that only reads local state (a few milliseconds at most): the gateway runs it
    on its event loop instead of handing it to a worker thread. The hand-off and the GIL traffic
    between the loop and the workers cost more than such a read, and set the control plane's tail
    latency under concurrent clients (docs/benchmarks.md)."""
    handler.inline = True  # type: ignore[attr-defined]
    return handler


@dataclass
class Service:
    """One AWS service spoken by the gateway."""

    name: str                                   # botocore name: sagemaker, logs, sts, iam, ...
    handlers: dict[str, Handler] = field(default_factory=dict)
    validation_code: str = "ValidationException"  # what this service calls a constraint failure

    @property
    def model(self) -> ServiceModel:
        return service_model(self.name)

    @classmethod
    def from_providers(cls, name: str, providers: Iterable[object],
                       defaults: dict[str, Handler] | None = None,
                       validation_code: str = "ValidationException") -> Service:
        model = service_model(name)
        handlers = {op: h for op, h in (defaults or {}).items() if op in model.operation_names}
        for op in model.operation_names:
            method = xform_name(op)
            for provider in providers:
                if hasattr(provider, method):
                    handlers[op] = getattr(provider, method)
                    break
        return cls(name, handlers, validation_code)

    def operation(self, op_name: str) -> tuple[OperationModel, Handler]:
        model = self.model
        if op_name not in model.operation_names:
            raise UnknownOperationException(
                f"Operation {op_name} does not exist in the {model.service_id} API.")
        handler = self.handlers.get(op_name)
        if handler is None:
            raise UnknownOperationException(
                f"{model.service_id} operation {op_name} is not supported by smlocal; "
                "docs/operations.md lists the operations it serves.")
        return model.operation_model(op_name), handler

    def validated(self, operation: OperationModel, raw_params: Any) -> dict[str, Any]:
        """The params after validation, failures in this service's own error code."""
        try:
            return validate(operation.input_shape, raw_params)
        except ValidationException as exc:
            if self.validation_code == exc.code:
                raise
            raise ServiceError(exc.message, code=self.validation_code) from None

    def call(self, op_name: str, raw_params: Any) -> tuple[OperationModel, dict[str, Any]]:
        """Validate, dispatch and return (operation model, handler result)."""
        operation, handler = self.operation(op_name)
        params = self.validated(operation, raw_params)
        result = handler(params) or {}
        return operation, result

    async def acall(self, op_name: str, raw_params: Any) -> tuple[OperationModel, dict[str, Any]]:
        """As ``call``; coroutine handlers (the invocation proxy) run on the event loop, others in a thread."""
        operation, handler = self.operation(op_name)
        if getattr(handler, "inline", False):
            return self.call(op_name, raw_params)
        if not inspect.iscoroutinefunction(handler):
            return await run_in_threadpool(self.call, op_name, raw_params)
        params = self.validated(operation, raw_params)
        return operation, (await handler(params)) or {}
