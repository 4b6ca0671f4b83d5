"""Who is calling: a hint the wire layer sets per request (from the User-Agent) and the domain may read,
without the domain knowing anything of HTTP. Two facts: is this the SageMaker Python SDK 2.x, and is the
request one of a botocore waiter's polls?

SDK 2 writes ``lib/AWS-SageMaker-Python-SDK#2.257.0`` into its User-Agent, SDK 3 ``...#3.0``. Only SDK 2
polls jobs every 30 s (the reason for ``sagemaker/sdk_wait.py``); SDK 3's resources poll every 5 s and
describe a job the moment they create it, so they are answered at once like any other client."""

from __future__ import annotations

import contextlib
import contextvars
import re
from collections.abc import Iterator

SDK_MARKER = "AWS-SageMaker-Python-SDK"   # sagemaker.user_agent.SDK_PREFIX, in every SDK request's User-Agent
_SDK_VERSION = re.compile(re.escape(SDK_MARKER) + r"[#/](\d+)")

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
    token = _sdk.set(_is_sdk2(user_agent or ""))
    waiter = _waiter.set(_from_waiter(user_agent or ""))
    try:
        yield
    finally:
        _waiter.reset(waiter)
        _sdk.reset(token)



def _is_sdk2(user_agent: str) -> bool:
    if SDK_MARKER not in user_agent:
        return False
    version = _SDK_VERSION.search(user_agent)
    return version is None or int(version.group(1)) < 3   # no version: an SDK 2 before the UA 2.0 format
