"""What every job that runs containers does (training, processing): find the image, download inputs
with progress and Stop checks, start one container per host on a per-job network, follow their logs,
wait for exits / Stop / MaxRuntime, reattach after a restart, and clean up.

Subclasses (``TrainingRun``, ``ProcessingRun``) add what their contract says: config files, specs,
outputs and how the record tells the outcome.
"""

from __future__ import annotations

import collections
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from emulator import images, instances
from emulator.config import Settings
from emulator.domain.lifecycle import JobLifecycle, JobStatus
from emulator.domain.ports import EndpointDeployer, JobLauncher
from emulator.domain.records import Context, Records
from emulator.infra.containers import ContainerError, ContainerRuntime, ContainerSpec
from emulator.infra.log_pump import LogPump
from emulator.infra.platform import host_names
from emulator.infra.staging import S3Object, StagingError, download, human_size
from emulator.jobs.network_pool import NetworkPool
from emulator.jobs.scheduler import JobControl
from emulator.s3.client import S3Client, S3Error
from emulator.state.db import DatabaseClosed
from emulator.state.logs import LogStore
from emulator.state.metrics import MetricStore

log = logging.getLogger(__name__)

# A network create beside a container's start or exit queues with it in Docker's network controller (one
# no-op job's time line: its exit took 0.18 s with the pool's refill beside it; a same-run A/B of this
# timing: 0.03-0.04 s less per no-op job, bench/NOTES.md). The pool is asked for the next spare when the
# job's containers have run this long, or when the job ends.
REFILL_AFTER_SECONDS = 1.0


class Outcome(NamedTuple):
    """How the containers ended: completed, failed (``host`` exited with ``code``), stopped, max-runtime."""

    kind: str
    host: str = ""
    code: int = 0


class JobFailure(Exception):
    """Ends a job as Failed with this FailureReason (already prefixed: ClientError:, AlgorithmError:)."""


class Stopped(Exception):
    """A Stop arrived before the containers started."""


@dataclass
class JobServices:
    """Everything a job runner needs: durable state, the container runtime (Docker, or the tests'
    in-memory fake) and S3; ``launcher`` (the job runtime itself) for runners that start other jobs,
    ``deployer`` (the hosting runtime) for those that create endpoints."""

    ctx: Context
    logs: LogStore
    metrics: MetricStore
    docker: ContainerRuntime
    s3: S3Client | None
    launcher: JobLauncher | None = None
    deployer: EndpointDeployer | None = None   # the hosting runtime, for pipelines' Endpoint steps
    networks: NetworkPool | None = None        # spare job networks (the job runtime's)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings


class ContainerJob:
    lifecycle: JobLifecycle
    log_group: str
    work_dir: str             # under <data dir>/jobs/
    image_role: str           # "training", "processing": names the image in error messages
    stop_signal: str | None = None   # None: the image's StopSignal (SIGTERM), as `docker stop`
    stop_grace_limit: float | None = None   # at most this many seconds of grace (serving containers)

    def __init__(self, services: JobServices, name: str, control: JobControl) -> None:
        self.services, self.name, self.control = services, name, control
        self.family = self.lifecycle.family
        self.records = Records(services.ctx, self.family)
        self.job = self.records.get(name)
        self.status_field = self.lifecycle.status_field
        self.hosts = host_names(self.instance_count())
        self.workspace = services.settings.data_dir / "jobs" / self.work_dir / name.lower()
        self.containers: dict[str, str] = {}
        self.pumps: dict[str, LogPump] = {}
        self.image = self.job.get("_smlocal", {}).get("image", "")
        self.image_environment: dict[str, str] = {}   # SMLOCAL_FRAMEWORK_VERSION for a substituted image
        self._refill: threading.Timer | None = None   # asks the network pool for the next spare (launch)

    # --- what subclasses define ----------------------------------------------------------------------
    def instance_count(self) -> int:
        raise NotImplementedError

    def instance_type(self) -> str:
        raise NotImplementedError

    def labels(self, host: str | None = None) -> dict[str, str]:
        raise NotImplementedError

    def own_network(self) -> str:
        """The name of the network the job creates for itself when no spare is ready."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Stage everything and start the containers (``launch``)."""
        raise NotImplementedError

    def conclude(self, outcome: Outcome) -> None:
        raise NotImplementedError

    def end_stopped(self) -> None:
        self.finish(JobStatus.STOPPED)

    def end_failed(self, reason: str) -> None:
        self.finish(JobStatus.FAILED, reason)

    def line_callback(self) -> Callable[[int, str], None] | None:
        return None

    # --- record ----------------------------------------------------------------------------------------
    def update(self, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        self.job = self.records.update(self.name, change)
        return self.job

    def refresh(self) -> dict[str, Any]:
        self.job = self.records.get(self.name)
        return self.job

    def remember(self, **fields: Any) -> None:
        """Private bookkeeping (image, containers, streams) kept in the record for restart recovery."""
        self.update(lambda record: record.setdefault("_smlocal", {}).update(fields))

    def finish(self, status: JobStatus, failure: str | None = None, secondary: str | None = None) -> None:
        """End the job: status, end time, FailureReason (``lifecycle``)."""
        self.update(lambda r: self.lifecycle.finish(r, status, time.time(), failure, secondary))

    def mark_stopping(self) -> None:
        self.update(lambda r: self.lifecycle.mark_stopping(r, time.time()))

    @property
    def stop_requested(self) -> bool:
        return self.control.stop.is_set() or self.job[self.status_field] == JobStatus.STOPPING

    # --- the whole run -------------------------------------------------------------------------------
    def run(self, reattach: bool = False) -> None:
        if not self.lifecycle.is_active(self.job):
            return
        interrupted = False
        try:
            if self.stop_requested and not reattach:
                self.end_stopped()
                return
            if reattach:
                self.reattach()
            else:
                self.discard_stale_workspace()
                self.prepare()
            self.conclude(self.wait())
        except Stopped:
            self.end_stopped()
        except JobFailure as failure:
            self.fail(str(failure))
        except (StagingError, S3Error, ContainerError) as exc:
            self.fail(f"ClientError: {exc}")
        except DatabaseClosed:  # keep containers and files: restart recovery reattaches to them
            log.info("%s %s: smlocal stopped while it ran; the next start recovers it", self.family.kind, self.name)
            interrupted = True
        except Exception as exc:
            log.exception("%s %s failed inside smlocal", self.family.kind, self.name)
            self.fail(f"InternalServerError: smlocal failed while running the job ({type(exc).__name__}: {exc}); "
                      "see the smlocal log.")
        finally:
            if not interrupted:
                self.cleanup()

    def discard_stale_workspace(self) -> None:
        """A run cut short before its containers started (a crash while staging) left files behind,
        such as partly downloaded ``.part`` files: the restarted run stages into a fresh directory,
        so its containers never see them."""
        if self.workspace.exists():
            log.info("%s %s: removing the work directory a run cut short left", self.family.kind, self.name)
            shutil.rmtree(self.workspace, ignore_errors=True)

    def fail(self, reason: str) -> None:
        if self.containers:
            self.stop_containers()
        self.join_logs(10)
        log.info("%s %s failed: %s", self.family.kind, self.name, reason)
        self.end_failed(reason)

    # --- image and inputs ----------------------------------------------------------------------------
    def find_image(self, requested: str) -> str:
        resolution = images.resolve(requested)
        for candidate in resolution.candidates:
            if self.services.docker.image_exists(candidate):
                self.image = candidate
                self.image_environment = resolution.environment(candidate)
                self.remember(image=candidate, image_note=resolution.note if candidate != requested else "")
                return candidate
        raise JobFailure("ClientError: " + resolution.missing_reason(self.image_role))

    def s3(self) -> S3Client:
        if self.services.s3 is None:
            raise JobFailure("ClientError: smlocal runs without an S3 server; start it with `smlocal up`.")
        return self.services.s3

    def fetch(self, plans: list[tuple[list[S3Object], Path]], report: Callable[[str], None] | None = None) -> None:
        """Download each (objects, target directory); ``report`` gets progress texts (at most 2/s).
        A Stop request ends the downloads (``Stopped``)."""
        total_bytes = sum(o.size for objects, _ in plans for o in objects)
        total_objects = sum(len(objects) for objects, _ in plans)
        done = {"bytes": 0, "objects": 0}
        last = [0.0]

        def progress(objects_done: int, _objects: int, bytes_done: int, _bytes: int) -> None:
            if self.control.stop.is_set():
                raise Stopped  # staging threads finish their current object and give up
            now = time.monotonic()
            if report is None or (now - last[0] < 0.5 and bytes_done < _bytes):
                return
            last[0] = now
            report(f"Downloading input data: {human_size(done['bytes'] + bytes_done)} of "
                   f"{human_size(total_bytes)} ({done['objects'] + objects_done} of {total_objects} objects)")

        for objects, target in plans:
            target.mkdir(parents=True, exist_ok=True)
            stats = download(self.s3(), objects, target, progress)
            done["bytes"] += stats.bytes
            done["objects"] += stats.objects
        if total_objects and report is not None:
            report(f"Downloaded input data: {human_size(total_bytes)} in {total_objects} objects")

    # --- network -------------------------------------------------------------------------------------
    def network(self) -> str:
        """The job's network: a spare it took (named in its record), else its own."""
        return self.job.get("_smlocal", {}).get("network") or self.own_network()

    def take_network(self, internal: bool, host_access: bool) -> str:
        """A network for this job alone: a spare from the pool when one is ready (named in the record
        before any container joins it, so cleanup and recovery find it), else one created now."""
        docker, pool = self.services.docker, self.services.networks
        named = self.job.get("_smlocal", {}).get("network")
        if named:   # a restart of a run cut short before its containers started keeps the one it took
            docker.create_network(named, self.labels(), internal=internal, host_access=host_access)
            return str(named)
        spare = pool.take(internal, host_access) if pool is not None else None
        if spare:
            self.remember(network=spare)
            return spare
        try:
            docker.create_network(self.own_network(), self.labels(), internal=internal, host_access=host_access)
        except ContainerError:
            if pool is None or not pool.release():
                raise
            # the spares may hold the address ranges Docker ran out of: given back, try once more
            docker.create_network(self.own_network(), self.labels(), internal=internal, host_access=host_access)
        return self.own_network()

    # --- containers ----------------------------------------------------------------------------------
    def limits(self) -> tuple[int | None, int | None]:
        return instances.container_limits(self.instance_type())

    def launch(self, specs: dict[str, ContainerSpec], isolated: bool = False, sealed: bool = False) -> None:
        """Create every host's container on the job's network, then start them together and follow logs.
        ``isolated``: the network has no route out; ``sealed``: not even to the host (network isolation of
        training and processing: the hosts reach each other and nothing else)."""
        docker = self.services.docker
        network = self.take_network(internal=isolated or sealed, host_access=not sealed)
        if network != self.own_network():   # the contracts name the job's own network: a spare replaces it
            for spec in specs.values():
                if spec.network == self.own_network():
                    spec.network = network
        started = time.time()
        streams = {h: f"{self.name}/{h}-{int(started)}" for h in self.hosts}
        for host, spec in specs.items():  # every host exists before any starts, as on SageMaker
            for key, value in self.image_environment.items():   # the requested framework version
                spec.environment.setdefault(key, value)
            self.containers[host] = self._create(host, spec)
        self.remember(containers=dict(self.containers), streams=streams, started=started)
        note = self.job.get("_smlocal", {}).get("image_note")
        for host in self.hosts if note else ():  # e.g. the nearest local framework version was used
            self.services.logs.append(self.log_group, streams[host], [(int(started * 1000), note)])
        with ThreadPoolExecutor(len(self.hosts)) as pool:  # start together; a failure re-raises here
            list(pool.map(lambda h: docker.start_created(self.containers[h], specs[h]), self.hosts))
        for host in self.hosts:
            self.follow(host, streams[host])
        if self.services.networks is not None:   # the next spare: once the containers ran a while or ended
            self._refill = threading.Timer(REFILL_AFTER_SECONDS, self.services.networks.refill)
            self._refill.daemon = True
            self._refill.start()

    def _create(self, host: str, spec: ContainerSpec) -> str:
        """Create one host's container. A run cut short may have left one of the same name: only when
        the create fails is it looked for (by label) and removed, so a fresh job pays no extra call."""
        docker = self.services.docker
        try:
            return docker.create(spec)
        except ContainerError:
            for stale in docker.find(self.labels(host)):
                docker.remove(stale.id)
        return docker.create(spec)   # once more; a second failure is the job's

    def follow(self, host: str, stream: str, since_ms: int | None = None,
               seen: collections.Counter | None = None) -> None:
        self.pumps[host] = LogPump(self.services.docker, self.containers[host], self.services.logs, self.log_group,
                                   stream, self.line_callback(), since_ms, seen).start()

    def reattach(self) -> None:
        private = self.job.get("_smlocal", {})
        found = {c.labels.get("org.smlocal.host"): c for c in self.services.docker.find(self.labels())}
        if private.get("containers") and any(c.status == "created" for c in found.values()):
            # smlocal stopped between creating the hosts' containers and starting them: nothing ran,
            # so the job starts over (waiting on a container that never starts would hang it)
            log.info("%s %s: its containers were created but never started; starting it again",
                     self.family.kind, self.name)
            for container in found.values():
                self.services.docker.remove(container.id)
            self.discard_stale_workspace()
            self.prepare()
            return
        if not private.get("containers") or any(h not in found for h in self.hosts):
            state = self.job.get("SecondaryStatus") or self.job[self.status_field]
            raise JobFailure(
                f"InternalServerError: smlocal stopped while the job was {state} and "
                "its containers are gone, so it cannot continue; create the job again under a new name.")
        self.containers = {h: found[h].id for h in self.hosts}
        for host in self.hosts:
            stream = private["streams"][host]
            last = self.services.logs.last_event(self.log_group, stream)
            since, seen = (last[0], collections.Counter(last[1])) if last else (None, None)
            self.follow(host, stream, since, seen)

    def wait(self) -> Outcome:
        """Until every host exits, one fails, a Stop arrives or MaxRuntime passes."""
        exits: queue.Queue[tuple[str, int]] = queue.Queue()
        for host, container in self.containers.items():
            threading.Thread(target=self._wait_one, args=(host, container, exits), daemon=True).start()
        started = self.job.get("_smlocal", {}).get("started", time.time())
        limit = self.job.get("StoppingCondition", {}).get("MaxRuntimeInSeconds", 86400)
        remaining = set(self.containers)
        while remaining:
            try:
                host, code = exits.get(timeout=0.25)
            except queue.Empty:
                if self.control.stop.is_set() or self.refresh()[self.status_field] == JobStatus.STOPPING:
                    return Outcome("stopped")
                if time.time() - started > limit:
                    return Outcome("max-runtime")
                self.while_running()
                continue
            remaining.discard(host)
            if code != 0:
                return Outcome("failed", host, code)
        return Outcome("completed")

    def while_running(self) -> None:
        """Called about 4 times a second while containers run (continuous uploads)."""

    def _wait_one(self, host: str, container: str, exits: queue.Queue) -> None:
        while True:
            try:
                exits.put((host, self.services.docker.wait(container, timeout=3600)))
                return
            except TimeoutError:
                continue
            except ContainerError:
                exits.put((host, -1))
                return

    def stop_containers(self) -> None:
        grace = self.services.settings.stop_grace_seconds
        if self.stop_grace_limit is not None:
            grace = min(grace, self.stop_grace_limit)
        threads = [threading.Thread(target=self.services.docker.stop, args=(c, grace, self.stop_signal), daemon=True)
                   for c in self.containers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def join_logs(self, timeout: float) -> None:
        for pump in self.pumps.values():
            pump.join(timeout)

    def log_tail(self, host: str, chars: int = 700) -> str:
        return "\n".join(self.pumps[host].tail if host in self.pumps else [])[-chars:]

    def out_of_memory(self, host: str) -> str | None:
        """An OutOfMemoryError reason when ``host``'s container was OOM-killed."""
        state = self.services.docker.state(self.containers[host])
        if state is None or not state.oom_killed:
            return None
        memory = instances.shape(self.instance_type())
        size = f" ({memory.memory_gib:g} GiB on {self.instance_type()})" if memory else ""
        return (f"OutOfMemoryError: {host} ran out of memory{size} and was killed. Use an instance type "
                "with more memory, or set SMLOCAL_INSTANCE_LIMITS=off.")

    def cleanup(self) -> None:
        """Remove the job's containers, network and work directory (outputs are in S3 by now)."""
        docker = self.services.docker
        networks = self.services.networks
        if self._refill is not None and networks is not None:   # the job ended: its last status is written
            self._refill.cancel()
            networks.refill()    # a wake-up of the pool's thread: harmless when the timer already fired
        try:
            for container in self.containers.values():
                docker.remove(container)
            if self.image:  # Docker answered for this job, so it may hold a network and root-owned files
                docker.remove_network(self.network())
                docker.remove_tree(self.workspace, self.image)
                return
        except ContainerError as exc:
            log.warning("cleanup of %s %s incomplete: %s", self.family.kind, self.name, exc)
        shutil.rmtree(self.workspace, ignore_errors=True)
