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

A thread handler may carry ``quick``: a loop-safe attempt the gateway tries first on the event loop;
it returns the answer, or None when the request needs the thread after all (the SDK's first Describe
of a running job, which ``sdk_wait`` holds). Every other Describe of a job is then a read on the loop.
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
    quick: Callable[[Params], Result | None] | None = None   # THREAD only: try this on the loop first

    def __post_init__(self) -> None:
        is_coroutine = inspect.iscoroutinefunction(self.handler)
        if is_coroutine != (self.where is Where.AWAITED):
            raise TypeError(f"{getattr(self.handler, '__qualname__', self.handler)}: coroutine handlers are "
                            "'awaited', plain functions run 'on_loop' or 'in_thread'")
        if self.quick is not None and self.where is not Where.THREAD:
            raise TypeError("only a thread handler has a quick attempt on the loop")


OperationTable = dict[str, HandlerSpec]


class Stored(dict):
    """A record exactly as stored, returned as a handler's whole answer (Describe<Noun>): ``text`` is its
    stored JSON, so the gateway may reuse the response it built for the same text and operation (a
    write changes the text). Instances may be shared between requests: nobody mutates them."""

    __slots__ = ("text",)

    def __init__(self, text: str, record: dict[str, Any]) -> None:
        super().__init__(record)
        self.text = text


def on_loop(handler: SyncHandler) -> HandlerSpec:
    return HandlerSpec(handler, Where.LOOP)


def in_thread(handler: SyncHandler) -> HandlerSpec:
    return HandlerSpec(handler, Where.THREAD)


def awaited(handler: AsyncHandler) -> HandlerSpec:
    return HandlerSpec(handler, Where.AWAITED)


def blocking(handler: SyncHandler, quick: Callable[[Params], Result | None] | None = None) -> HandlerSpec:
    """A handler that waits (sleeps, polls): it always runs in a worker thread, and refuses to run
    on an event loop's thread should anything ever call it there. ``quick``: see the module docstring."""
    def guarded(params: Params) -> Result:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return handler(params)
        raise RuntimeError(f"{getattr(handler, '__qualname__', handler)} blocks and must not run on the event loop")
    guarded.__qualname__ = getattr(handler, "__qualname__", "blocking")
    return HandlerSpec(guarded, Where.THREAD, quick)
