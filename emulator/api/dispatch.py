"""The operation table: botocore operation name -> handler spec, built once per service.

Providers register their operations explicitly (``operations()`` -> ``OperationTable``, see
``emulator.handler_spec``). ``Service.build`` merges the tables and refuses, at start-up, an
operation registered twice or one the service's botocore model does not have.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.model import OperationModel, ServiceModel
from starlette.concurrency import run_in_threadpool

from emulator.api.service_models import service_model
from emulator.api.validate import validate
from emulator.errors import ServiceError, UnknownOperationException, ValidationException
from emulator.handler_spec import HandlerSpec, OperationTable, Where

log = logging.getLogger(__name__)


class RegistrationError(Exception):
    """The handler tables do not fit together (a programming error, raised at start-up)."""


@dataclass
class Service:
    """One AWS service spoken by the gateway."""

    name: str                                   # botocore name: sagemaker, logs, sts, iam, ...
    handlers: dict[str, HandlerSpec] = field(default_factory=dict)
    validation_code: str = "ValidationException"  # what this service calls a constraint failure

    @property
    def model(self) -> ServiceModel:
        return service_model(self.name)

    @classmethod
    def build(cls, name: str, tables: Iterable[OperationTable],
              validation_code: str = "ValidationException") -> Service:
        model = service_model(name)
        handlers: dict[str, HandlerSpec] = {}
        for table in tables:
            for op, spec in table.items():
                if op not in model.operation_names:
                    raise RegistrationError(f"{op} is not an operation of the {model.service_id} API")
                if op in handlers:
                    raise RegistrationError(
                        f"{op} is registered twice ({_where(handlers[op])} and {_where(spec)}); one handler "
                        "per operation: remove one, or change the shared one")
                handlers[op] = spec
        return cls(name, handlers, validation_code)

    def operation(self, op_name: str) -> tuple[OperationModel, HandlerSpec]:
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
        """Validate, dispatch a synchronous handler and return (operation model, handler result)."""
        operation, spec = self.operation(op_name)
        if spec.where is Where.AWAITED:
            raise RegistrationError(f"{op_name} is a coroutine handler; use acall")
        params = self.validated(operation, raw_params)
        return operation, spec.handler(params) or {}

    async def acall(self, op_name: str, raw_params: Any) -> tuple[OperationModel, dict[str, Any]]:
        """As ``call``, where the handler's spec says: on the event loop, awaited, or in a worker thread."""
        operation, spec = self.operation(op_name)
        if spec.where is Where.LOOP:
            return self.call(op_name, raw_params)
        if spec.where is Where.THREAD:
            if spec.quick is not None:
                params = self.validated(operation, raw_params)
                answer = spec.quick(params)
                if answer is not None:
                    return operation, answer
            return await run_in_threadpool(self.call, op_name, raw_params)
        params = self.validated(operation, raw_params)
        return operation, (await spec.handler(params)) or {}


def _where(spec: HandlerSpec) -> str:
    handler = spec.handler
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', handler)}"
