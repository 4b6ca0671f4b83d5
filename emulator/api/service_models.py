"""botocore's service models: the single source of truth for every operation we speak."""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore.model import OperationModel, ServiceModel


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def service_model(name: str) -> ServiceModel:
    """`sagemaker`, `sagemaker-runtime`, `logs`, `sts`, `iam` (cached, ~0.1 s the first time)."""
    return _session().get_service_model(name)


def operation_model(service: str, operation: str) -> OperationModel | None:
    model = service_model(service)
    if operation not in model.operation_names:
        return None
    return model.operation_model(operation)
