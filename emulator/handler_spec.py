"""How one API operation is served: its handler and where the gateway runs it.

Every wire-facing provider lists its operations explicitly (``operations()`` returns an
``OperationTable``); the wire layer (``emulator.api.dispatch``) merges the tables once at start-up
and refuses an operation registered twice, so nothing overrides anything silently.

Where a handler runs:
- ``on_loop``: reads of local state that take a few milliseconds at most (Describe*/List* of
  records). The gateway calls them on its event loop: the hand-off to a worker thread and the GIL
  traffic it causes cost more than the read, and set the control plane's tail latency under
  concurrent clients (docs/benchmarks.md).
- ``in_thread``: anything that writes, waits or may take longer; run in the thread pool.
- ``awaited``: coroutines (the invocation proxy), awaited on the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

Params = dict[str, Any]
Result = dict[str, Any]
SyncHandler = Callable[[Params], Result]
AsyncHandler = Callable[[Params], Awaitable[Result]]


class Where(Enum):
    LOOP = "loop"
    THREAD = "thread"
    AWAITED = "awaited"


@dataclass(frozen=True)
class HandlerSpec:
    handler: Callable[[Params], Any]
    where: Where

    def __post_init__(self) -> None:
        is_coroutine = inspect.iscoroutinefunction(self.handler)
        if is_coroutine != (self.where is Where.AWAITED):
            raise TypeError(f"{getattr(self.handler, '__qualname__', self.handler)}: coroutine handlers are "
                            "'awaited', plain functions run 'on_loop' or 'in_thread'")


OperationTable = dict[str, HandlerSpec]


def on_loop(handler: SyncHandler) -> HandlerSpec:
    return HandlerSpec(handler, Where.LOOP)


def in_thread(handler: SyncHandler) -> HandlerSpec:
    return HandlerSpec(handler, Where.THREAD)


def awaited(handler: AsyncHandler) -> HandlerSpec:
    return HandlerSpec(handler, Where.AWAITED)


def blocking(handler: SyncHandler) -> HandlerSpec:
    """A handler that waits (sleeps, polls): it always runs in a worker thread, and refuses to run
    on an event loop's thread should anything ever call it there."""
    def guarded(params: Params) -> Result:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return handler(params)
        raise RuntimeError(f"{getattr(handler, '__qualname__', handler)} blocks and must not run on the event loop")
    guarded.__qualname__ = getattr(handler, "__qualname__", "blocking")
    return HandlerSpec(guarded, Where.THREAD)
