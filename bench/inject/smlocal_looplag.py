"""Loop-lag probe injected into a `smlocal up` process by bench/busy_tail.py (not part of the product).

Imported before the emulator (``python -c "import smlocal_looplag; ..."`` with this directory on
PYTHONPATH), it wraps ``uvicorn.Server.serve`` so that, on the gateway's own event loop:

- a heartbeat (``call_later`` every 2 ms) records how late it fires, and for each late beat how much
  of the interval the loop's thread spent running on a CPU, waiting in the kernel's run queue
  (``/proc/self/task/<tid>/schedstat``), and the rest: blocked, i.e. waiting for the GIL (the loop
  has work: the beat is due) or in a system call;
- a sampler thread looks at the loop thread's Python stack whenever a beat is overdue, so a long
  callback on the loop is named;
- the ASGI app is wrapped to time each ListTrainingJobs request from the app call to the last body
  byte, with the same CPU/run-queue/blocked split.

Writes one JSON file (``SMLOCAL_LOOPLAG_OUT``) when the server stops.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import sys
import threading
import time

import uvicorn

BEAT = 0.002
OVERDUE = 0.010          # sample the loop thread's stack while a beat is this late
LATE = 0.005             # beats at least this late are kept


def _schedstat(tid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds waiting in the run queue) of one thread."""
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        run, wait, _ = f.read().split()
    return int(run) / 1e9, int(wait) / 1e9


def _where(frame) -> str:
    """The innermost frames that are the emulator's or a library's, not the loop's base."""
    names = []
    while frame is not None and len(names) < 4:
        code = frame.f_code
        path = code.co_filename
        short = "/".join(path.split("/")[-2:])
        names.append(f"{short}:{code.co_name}")
        frame = frame.f_back
    return " < ".join(names)


class Probe:
    def __init__(self) -> None:
        self.tid = threading.get_native_id()
        self.ident = threading.get_ident()
        self.beats: list[float] = []          # lateness of every beat
        self.late: list[dict] = []
        self.requests: list[dict] = []
        self.due = 0.0
        self.overdue_since = 0.0
        self.samples: collections.Counter[str] = collections.Counter()
        self.all_samples: collections.Counter[str] = collections.Counter()
        self.stop = threading.Event()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.last = (time.perf_counter(), *_schedstat(self.tid))
        self.due = time.perf_counter() + BEAT
        loop.call_later(BEAT, self.beat)
        threading.Thread(target=self.sample, daemon=True, name="looplag-sampler").start()

    def beat(self) -> None:
        now = time.perf_counter()
        lateness = now - self.due
        self.beats.append(lateness)
        wall, run, wait = now, *_schedstat(self.tid)
        if lateness >= LATE:
            interval = wall - self.last[0]
            on_cpu, queued = run - self.last[1], wait - self.last[2]
            self.late.append({"t": now, "late_ms": lateness * 1000, "interval_ms": interval * 1000,
                              "cpu_ms": on_cpu * 1000, "runqueue_ms": queued * 1000,
                              "blocked_ms": (interval - on_cpu - queued) * 1000,
                              "stacks": dict(self.samples.most_common(3))})
        self.samples.clear()
        self.last = (time.perf_counter(), *_schedstat(self.tid))
        self.due = time.perf_counter() + BEAT
        if not self.stop.is_set():
            self.loop.call_later(BEAT, self.beat)

    def sample(self) -> None:
        while not self.stop.is_set():
            time.sleep(0.001)
            if time.perf_counter() - self.due > OVERDUE:
                frame = sys._current_frames().get(self.ident)
                where = _where(frame)
                self.samples[where] += 1
                self.all_samples[where] += 1

    def wrap(self, app):
        probe = self

        async def timed(scope, receive, send):
            target = ""
            if scope.get("type") == "http":
                for key, value in scope.get("headers") or ():
                    if key == b"x-amz-target":
                        target = value.decode().rsplit(".", 1)[-1]
            if target != "ListTrainingJobs":
                return await app(scope, receive, send)
            t0, r0, w0 = time.perf_counter(), *_schedstat(probe.tid)

            async def send_timed(message):
                await send(message)
                if message.get("type") == "http.response.body" and not message.get("more_body"):
                    t1, r1, w1 = time.perf_counter(), *_schedstat(probe.tid)
                    probe.requests.append({"t": t0, "ms": (t1 - t0) * 1000, "cpu_ms": (r1 - r0) * 1000,
                                           "runqueue_ms": (w1 - w0) * 1000,
                                           "blocked_ms": ((t1 - t0) - (r1 - r0) - (w1 - w0)) * 1000})
            return await app(scope, receive, send_timed)
        return timed

    def dump(self, path: str) -> None:
        self.stop.set()
        names = {t.native_id: t.name for t in threading.enumerate()}
        with open(path, "w") as f:
            json.dump({"beats": self.beats, "late": self.late, "requests": self.requests,
                       "overdue_stacks": self.all_samples.most_common(40), "thread_names": names}, f)


_serve = uvicorn.Server.serve


def _set_slice(microseconds: int) -> None:
    """EEVDF's per-thread slice request (sched_setattr's sched_runtime, Linux >= 6.12, x86_64)."""
    import ctypes
    import struct
    tid = threading.get_native_id()
    attr = struct.pack("IIQiIQQQ", 48, 0, 0, os.getpriority(os.PRIO_PROCESS, tid), 0, microseconds * 1000, 0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(314, 0, ctypes.create_string_buffer(attr), 0) != 0:
        raise OSError(ctypes.get_errno(), "sched_setattr")


async def serve(self, sockets=None):
    if os.environ.get("SMLOCAL_LOOPLAG_SLICE_US"):
        _set_slice(int(os.environ["SMLOCAL_LOOPLAG_SLICE_US"]))
    probe = Probe()
    self.config.app = probe.wrap(self.config.app)
    probe.start(asyncio.get_running_loop())
    try:
        await _serve(self, sockets)
    finally:
        probe.dump(os.environ["SMLOCAL_LOOPLAG_OUT"])


uvicorn.Server.serve = serve  # type: ignore[method-assign]
