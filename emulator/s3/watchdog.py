"""Keeping the embedded S3 server alive: a thread that notices weed died and starts it again.

weed can die under the gateway (OOM killer, a crash, a stray ``kill``); before this, ``smlocal up``
said "already running" while every S3 call failed. The watchdog checks the process every
``interval`` seconds and restarts it with exponential backoff (1, 2, 4 ... ``max_backoff`` s) while
starts keep failing; ``poke()`` (``smlocal up`` on a half-dead instance sends SIGUSR1) retries at
once. ``before_start``/``after_start`` let the caller step the Docker bridge relay aside: weed
refuses an S3 port bound on any address, and the relay listens on the bridge with that port.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from emulator.s3.embedded import EmbeddedS3, S3StartError, _answers_http

log = logging.getLogger(__name__)


class S3Watchdog:
    def __init__(self, server: EmbeddedS3, *, interval: float = 1.0, first_backoff: float = 1.0,
                 max_backoff: float = 30.0, hung_after: int = 5,
                 before_start: Callable[[], None] | None = None,
                 after_start: Callable[[int | None], None] | None = None) -> None:
        self.server = server
        self.interval = interval
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.hung_after = hung_after      # checks in a row without an HTTP answer: weed is hung
        self.before_start = before_start
        self.after_start = after_start
        self.restarts = 0
        self.last_error: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="s3-watchdog", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def poke(self) -> None:
        """Check (and restart) now, skipping any backoff wait."""
        self._wake.set()

    def _healthy(self) -> bool:
        if not self.server.running:
            return False
        if _answers_http(self.server.endpoint + "/"):
            self._silent = 0
            return True
        self._silent += 1
        return self._silent < self.hung_after

    def _run(self) -> None:
        backoff = self.first_backoff
        delay = self.interval
        self._silent = 0
        while not self._stop.is_set():
            poked = self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                return
            if self._healthy():
                backoff, delay = self.first_backoff, self.interval
                continue
            if poked:
                backoff = self.first_backoff
            if self._restart():
                backoff, delay = self.first_backoff, self.interval
            else:
                delay = backoff
                backoff = min(backoff * 2, self.max_backoff)

    def _restart(self) -> bool:
        log.warning("the embedded S3 server (weed) is not running or not answering; starting it again")
        started = time.monotonic()
        self._silent = 0
        try:
            self.server.stop(timeout=5)       # a hung weed; for a dead one, only its sockets are removed
            if self.before_start is not None:
                self.before_start()
            self.server.start(timeout=60)
        except (S3StartError, OSError) as exc:
            self.last_error = str(exc)
            log.error("the embedded S3 server did not start again: %s", exc)
            return False
        finally:
            if self.after_start is not None:
                try:
                    self.after_start(self.server.pid)
                except OSError as exc:          # the relay: S3 still serves the host
                    log.error("after restarting S3: %s", exc)
        self.restarts += 1
        self.last_error = None
        log.warning("the embedded S3 server runs again (pid %s, %.1f s)", self.server.pid,
                    time.monotonic() - started)
        return True
