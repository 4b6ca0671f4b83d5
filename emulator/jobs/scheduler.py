"""A bounded pool of job workers: at most N jobs run at once, the rest wait their turn.

Workers are daemon threads: when the emulator stops, running jobs keep their containers and are
reattached on the next start (``JobRuntime.recover``), so nothing here needs to outlive the process.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class JobControl:
    """How the API talks to a running job (stop requests)."""

    key: str
    stop: threading.Event = field(default_factory=threading.Event)
    started: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    unpooled: bool = False   # a coordinator on its own thread (``Scheduler.spawn``), not in a slot


class Scheduler:
    def __init__(self, max_concurrent: int) -> None:
        self.max_concurrent = max(1, max_concurrent)
        self._queue: queue.Queue[tuple[JobControl, Callable[[JobControl], None]] | None] = queue.Queue()
        self._controls: dict[str, JobControl] = {}
        self._lock = threading.Lock()
        self._workers = [threading.Thread(target=self._work, name=f"job-worker-{i}", daemon=True)
                         for i in range(self.max_concurrent)]
        for worker in self._workers:
            worker.start()

    def submit(self, key: str, run: Callable[[JobControl], None]) -> JobControl:
        control = JobControl(key)
        with self._lock:
            self._controls[key] = control
        self._queue.put((control, run))
        return control

    def spawn(self, key: str, run: Callable[[JobControl], None]) -> JobControl:
        """Run a job that only coordinates other jobs (a tuning job) on its own daemon thread, outside the
        pool: it must not hold a slot while the jobs it starts wait for one."""
        control = JobControl(key, unpooled=True)
        with self._lock:
            self._controls[key] = control
        threading.Thread(target=self._run, args=(control, run), name=f"coordinator-{key}", daemon=True).start()
        return control

    def control(self, key: str) -> JobControl | None:
        with self._lock:
            return self._controls.get(key)

    def waiting(self) -> int:
        return self._queue.qsize()

    def running(self) -> int:
        """Jobs holding a worker slot (coordinators started with ``spawn`` hold none)."""
        with self._lock:
            return sum(1 for c in self._controls.values()
                       if c.started.is_set() and not c.done.is_set() and not c.unpooled)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._run(*item)

    def _run(self, control: JobControl, run: Callable[[JobControl], None]) -> None:
        control.started.set()
        try:
            run(control)
        except Exception:
            log.exception("job %s crashed", control.key)
        finally:
            control.done.set()
            with self._lock:
                if self._controls.get(control.key) is control:
                    del self._controls[control.key]

    def shutdown(self) -> None:
        for _ in self._workers:
            self._queue.put(None)
