"""Who is calling: a hint the wire layer sets per request (from the User-Agent) and the domain may read,
without the domain knowing anything of HTTP. Today one fact: is this the SageMaker Python SDK?"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

SDK_MARKER = "AWS-SageMaker-Python-SDK"   # sagemaker.user_agent.SDK_PREFIX, in every SDK request's User-Agent

_sdk: contextvars.ContextVar[bool] = contextvars.ContextVar("smlocal_caller_is_sdk", default=False)


def is_sdk() -> bool:
    return _sdk.get()


@contextlib.contextmanager
def calling_as(user_agent: str | None) -> Iterator[None]:
    """The caller hint derived from ``user_agent``, for the code (and the worker threads) run inside."""
    token = _sdk.set(SDK_MARKER in (user_agent or ""))
    try:
        yield
    finally:
        _sdk.reset(token)

