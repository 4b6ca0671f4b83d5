"""Who is calling: a hint the wire layer sets per request (from the User-Agent) and the domain may read,
without the domain knowing anything of HTTP. Today one fact: is this the SageMaker Python SDK?"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any, TypeVar

SDK_MARKER = "AWS-SageMaker-Python-SDK"   # sagemaker.user_agent.SDK_PREFIX, in every SDK request's User-Agent

_sdk: contextvars.ContextVar[bool] = contextvars.ContextVar("smlocal_caller_is_sdk", default=False)
T = TypeVar("T")


def is_sdk() -> bool:
    return _sdk.get()


def call_as(user_agent: str | None, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` with the caller hint derived from ``user_agent`` set."""
    token = _sdk.set(SDK_MARKER in (user_agent or ""))
    try:
        return fn(*args)
    finally:
        _sdk.reset(token)
