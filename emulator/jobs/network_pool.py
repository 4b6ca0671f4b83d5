"""Spare job networks, made before the jobs that take them.

Creating a job's Docker network costs 0.13 s (quiet engine) to 0.9 s (loaded) on the job's way to its
containers (bench/NOTES.md, issue 19). The pool keeps ``size`` spare networks of each kind a job asks
for (``Variant``: normal, internal, sealed) and makes new ones on its own thread once a job that
took one (or made its own) has run its containers for a second or ended (``container_job.py``: a
create beside a container's start or exit slows both). A job
takes a spare when one is ready and otherwise creates its own network as before: it never waits for
the pool. Each network still serves one job only (jobs sharing one network deadlocked Docker 20.10's
libnetwork when their containers exited together), and the job removes it when it ends.

Docker's labels cannot change after a create, so a spare keeps its pool labels once taken: the job
names its network in its record (``_smlocal.network``), and start-up removes every pool network of
this data directory that no active job names (``sweep``): spares a crash left and networks of jobs
that ended before their cleanup. A variant's spares are made once a job first asks for that variant
(an emulator that runs no job holds no network: Docker's default address pools allow ~30 networks
for the whole machine). ``size`` 0 (SMLOCAL_JOB_NETWORK_SPARES=0) turns the pool off.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from emulator.infra.containers import ContainerError, ContainerRuntime

log = logging.getLogger(__name__)

POOL_LABEL = "org.smlocal.network-pool"        # value: the data directory of the smlocal that made it
VARIANT_LABEL = "org.smlocal.network-variant"  # normal, internal or sealed
RETRY_SECONDS = 10.0                           # after a failed create, before the next try


@dataclass(frozen=True)
class Variant:
    internal: bool          # no route out (network isolation)
    host_access: bool       # False: not even to the host (sealed)

    @property
    def name(self) -> str:
        if not self.internal:
            return "normal"
        return "internal" if self.host_access else "sealed"


def pool_labels(data_dir: Path) -> dict[str, str]:
    return {POOL_LABEL: str(Path(data_dir).expanduser().resolve())}


class NetworkPool:
    def __init__(self, docker: ContainerRuntime, data_dir: Path, size: int) -> None:
        self.docker, self.size = docker, max(0, size)
        self.labels = pool_labels(data_dir)
        self._spares: dict[Variant, list[str]] = {}
        self._wanted: list[Variant] = []        # variants some job asked for, in that order
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # --- what jobs call ------------------------------------------------------------------------------
    def take(self, internal: bool, host_access: bool) -> str | None:
        """A ready spare network of this variant, or None at once. The pool makes the next one on
        ``refill``, which the job calls once its containers ran a second or it ended: a network create at
        the same time as the job's container start or exit would queue with them in Docker's network
        controller."""
        if self.size == 0:
            return None
        variant = Variant(internal, host_access)
        with self._lock:
            if self._closed.is_set():
                return None
            if variant not in self._wanted:
                self._wanted.append(variant)
            spares = self._spares.get(variant)
            return spares.pop() if spares else None

    def refill(self) -> None:
        """Make spares up to ``size`` of every variant jobs asked for (on the pool's thread)."""
        self._wake.set()

    def release(self) -> int:
        """Remove every spare (a job's own create failed, perhaps for want of address ranges)."""
        with self._lock:
            names = [name for spares in self._spares.values() for name in spares]
            self._spares.clear()
        for name in names:
            self.docker.remove_network(name)
        return len(names)

    def spares(self) -> dict[str, list[str]]:
        """Variant name -> its ready spares (for tests and diagnostics)."""
        with self._lock:
            return {variant.name: list(names) for variant, names in self._spares.items()}

    # --- life ----------------------------------------------------------------------------------------
    def start(self) -> None:
        if self.size and self._thread is None and not self._closed.is_set():
            self._thread = threading.Thread(target=self._fill, name="job-network-pool", daemon=True)
            self._thread.start()

    def sweep(self, keep: set[str]) -> None:
        """At start-up: remove this smlocal's pool networks that no active job names in ``keep``."""
        sweep(self.docker, self.labels, keep)

    def close(self, timeout: float = 10.0) -> None:
        """Stop making spares and remove those not taken (``smlocal down``, shutdown)."""
        with self._lock:
            self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.release()

    def _next(self) -> Variant | None:
        with self._lock:
            if self._closed.is_set():
                return None
            return next((v for v in self._wanted if len(self._spares.get(v, ())) < self.size), None)

    def _fill(self) -> None:
        while not self._closed.is_set():
            self._wake.wait()
            self._wake.clear()
            while (variant := self._next()) is not None:
                name = f"smlocal-net-{secrets.token_hex(6)}"
                try:
                    self.docker.create_network(name, {**self.labels, VARIANT_LABEL: variant.name},
                                               internal=variant.internal, host_access=variant.host_access)
                except ContainerError as exc:
                    log.warning("cannot make a spare job network (jobs create their own meanwhile): %s", exc)
                    self._closed.wait(RETRY_SECONDS)
                    self._wake.set()
                    break
                with self._lock:
                    kept = not self._closed.is_set()
                    if kept:
                        self._spares.setdefault(variant, []).append(name)
                if not kept:
                    self.docker.remove_network(name)


def sweep(docker: ContainerRuntime, labels: dict[str, str], keep: set[str]) -> None:
    try:
        found = docker.find_networks(labels)
    except ContainerError as exc:
        log.warning("cannot sweep spare job networks: %s", exc)
        return
    for name, _ in found:
        if name not in keep:
            log.info("removing the job network %s a previous run left", name)
            docker.remove_network(name)
