"""The one error family of the emulator.

Any layer raises these; the wire layer serializes them once, in the shape of the protocol the
client spoke (JSON ``__type``, rest-json ``x-amzn-ErrorType``, query XML ``ErrorResponse``).
Codes and HTTP statuses are those of the real services.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """An AWS-shaped error: a code, a message a user can act on, an HTTP status."""

    code = "InternalFailure"
    status = 400
    sender_fault = True

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        # extra members some error shapes carry (ModelError's OriginalStatusCode, ...)
        self.fields = fields

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message})"


# --- SageMaker control plane (JSON 1.1) -----------------------------------------------------
class ValidationException(ServiceError):
    """SageMaker's answer to most bad requests and to missing resources (not in the model)."""
    code = "ValidationException"


class ResourceNotFound(ServiceError):
    code = "ResourceNotFound"


class ResourceInUse(ServiceError):
    code = "ResourceInUse"


class ResourceLimitExceeded(ServiceError):
    code = "ResourceLimitExceeded"


class ConflictException(ServiceError):
    code = "ConflictException"


# --- generic protocol errors (any AWS JSON service) ------------------------------------------
class SerializationException(ServiceError):
    code = "SerializationException"


class UnknownOperationException(ServiceError):
    code = "UnknownOperationException"


class RequestEntityTooLarge(ServiceError):
    code = "RequestEntityTooLargeException"
    status = 413


class InternalFailure(ServiceError):
    code = "InternalFailure"
    status = 500
    sender_fault = False


# --- CloudWatch Logs ---------------------------------------------------------------------------
class LogsResourceNotFound(ServiceError):
    code = "ResourceNotFoundException"


class LogsInvalidParameter(ServiceError):
    code = "InvalidParameterException"


class LogsResourceAlreadyExists(ServiceError):
    code = "ResourceAlreadyExistsException"


# --- SageMaker runtime (rest-json) -------------------------------------------------------------
class RuntimeValidationError(ServiceError):
    code = "ValidationError"


class ModelError(ServiceError):
    code = "ModelError"
    status = 424


class ModelNotReady(ServiceError):
    code = "ModelNotReadyException"
    status = 429


class ServiceUnavailable(ServiceError):
    code = "ServiceUnavailable"
    status = 503
    sender_fault = False


# --- IAM / STS (query protocol) ----------------------------------------------------------------
class NoSuchEntity(ServiceError):
    code = "NoSuchEntity"
    status = 404


class InvalidAction(ServiceError):
    code = "InvalidAction"


class MissingParameter(ServiceError):
    code = "MissingParameter"
