"""Who is calling: a hint the wire layer sets per request (from the User-Agent) and the domain may read,
without the domain knowing anything of HTTP. Two facts: is this the SageMaker Python SDK, and is the request
one of a botocore waiter's polls?"""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator

SDK_MARKER = "AWS-SageMaker-Python-SDK"   # sagemaker.user_agent.SDK_PREFIX, in every SDK request's User-Agent

# botocore's feature ids in the User-Agent (``m/B,E``): "B" marks a request sent by a waiter
_FEATURES = re.compile(r"(?:^|\s)m/([A-Za-z0-9,+\-]+)")
WAITER_FEATURE = "B"

_sdk: contextvars.ContextVar[bool] = contextvars.ContextVar("smlocal_caller_is_sdk", default=False)
_waiter: contextvars.ContextVar[bool] = contextvars.ContextVar("smlocal_caller_is_waiter", default=False)


def is_sdk() -> bool:
    return _sdk.get()


def is_waiter() -> bool:
    """The request is a botocore waiter's poll (the SDK's ``execution.wait()``, ``aws ... wait``)."""
    return _waiter.get()


def _from_waiter(user_agent: str) -> bool:
    match = _FEATURES.search(user_agent)
    return match is not None and WAITER_FEATURE in match.group(1).split(",")


@contextlib.contextmanager
def calling_as(user_agent: str | None) -> Iterator[None]:
    """The caller hints derived from ``user_agent``, for the code (and the worker threads) run inside."""
    token = _sdk.set(SDK_MARKER in (user_agent or ""))
    waiter = _waiter.set(_from_waiter(user_agent or ""))
    try:
        yield
    finally:
        _waiter.reset(waiter)
        _sdk.reset(token)

