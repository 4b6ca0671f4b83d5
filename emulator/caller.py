"""Who is calling: a hint the wire layer sets per request (from the User-Agent) and the domain may read,
without the domain knowing anything of HTTP. Today one fact: is this the SageMaker Python SDK 2.x?

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

_sdk: contextvars.ContextVar[bool] = contextvars.ContextVar("smlocal_caller_is_sdk", default=False)


def is_sdk() -> bool:
    return _sdk.get()


@contextlib.contextmanager
def calling_as(user_agent: str | None) -> Iterator[None]:
    """The caller hint derived from ``user_agent``, for the code (and the worker threads) run inside."""
    token = _sdk.set(_is_sdk2(user_agent or ""))
    try:
        yield
    finally:
        _sdk.reset(token)



def _is_sdk2(user_agent: str) -> bool:
    if SDK_MARKER not in user_agent:
        return False
    version = _SDK_VERSION.search(user_agent)
    return version is None or int(version.group(1)) < 3   # no version: an SDK 2 before the UA 2.0 format
