"""Job runtime: the scheduler plus the runners of every job kind (``kinds.KINDS``), and recovery of
the jobs a previous run left behind. It is the domain's ``JobLauncher``."""

from __future__ import annotations

import logging

from emulator.domain.families import Family
from emulator.domain.records import Records
from emulator.infra.containers import ContainerError
from emulator.jobs.container_job import JobServices
from emulator.jobs.kinds import BY_KIND, KINDS, JobKind
from emulator.jobs.network_pool import NetworkPool
from emulator.jobs.scheduler import JobControl, Scheduler

log = logging.getLogger(__name__)


class JobRuntime:
    def __init__(self, services: JobServices, kinds: tuple[JobKind, ...] = KINDS) -> None:
        self.services = services
        self.kinds = {kind.family.kind: kind for kind in kinds}
        self.scheduler = Scheduler(services.settings.max_concurrent_jobs)
        services.launcher = self   # runners that start other jobs (tuning) launch them here
        settings = services.settings
        services.networks = self.networks = NetworkPool(services.docker, settings.data_dir,
                                                        settings.job_network_spares)

    def _kind(self, family: Family) -> JobKind:
        return self.kinds.get(family.kind) or BY_KIND[family.kind]

    def _busy(self) -> bool:
        return self.scheduler.running() + self.scheduler.waiting() >= self.scheduler.max_concurrent

    # --- JobLauncher -------------------------------------------------------------------------------
    def launch(self, family: Family, name: str, reattach: bool = False) -> JobControl:
        kind = self._kind(family)
        if not kind.pooled:
            return self.scheduler.spawn(kind.key(name),
                                        lambda control: kind.run(self.services, name, control, reattach))
        if self._busy() and not reattach:
            self._show_waiting(kind, name, f"Waiting for a free job slot ({self.scheduler.max_concurrent} jobs "
                                           "run at once; SMLOCAL_MAX_CONCURRENT_JOBS)")

        def run(control: JobControl) -> None:
            kind.run(self.services, name, control, reattach)
        return self.scheduler.submit(kind.key(name), run)

    def stop(self, family: Family, name: str) -> None:
        control = self.scheduler.control(self._kind(family).key(name))
        if control is not None:
            control.stop.set()

    # --- start-up ----------------------------------------------------------------------------------
    def recover(self) -> None:
        """Jobs that were running when the emulator stopped: reattach to their containers (found by
        label), start again those that never got as far as containers, and fail the rest with a
        reason (the runner does, when it finds the containers gone). No job stays InProgress forever."""
        self.sweep_networks()
        self.networks.start()
        for kind in self.kinds.values():
            family = kind.family
            for record in self.services.ctx.store.all(family.kind, kind.lifecycle.active_statuses):
                name = record[family.name_field]
                had_containers = bool(record.get("_smlocal", {}).get("containers"))
                log.info("recovering %s %s (%s)", family.kind, name, record[kind.lifecycle.status_field])
                if not had_containers and not kind.lifecycle.is_stopping(record):
                    self._show_waiting(kind, name, "Restarting: smlocal stopped before the job's containers started")
                self.launch(family, name, reattach=had_containers)

    def sweep_networks(self) -> None:
        """Networks of this instance's ended jobs: a crash between a job's last status and its cleanup
        leaves one (networks of jobs that are unknown here may be another smlocal's: left alone); and
        this instance's pool networks (spares, and those of ended jobs) that no active job names."""
        docker = self.services.docker
        for kind in self.kinds.values():
            if not kind.pooled:
                continue                                     # kinds that start no containers
            family = kind.family
            try:
                found = docker.find_networks({"org.smlocal.kind": family.kind})
            except ContainerError as exc:
                log.warning("cannot sweep %s networks: %s", family.kind, exc)
                return
            for network, labels in found:
                record = self.services.ctx.store.get(family.kind, labels.get("org.smlocal.job", ""))
                if record is not None and not kind.lifecycle.is_active(record):
                    log.info("removing network %s of the ended %s", network, family.kind)
                    docker.remove_network(network)
        self.networks.sweep(self._named_networks())

    def _named_networks(self) -> set[str]:
        """The pool networks that active jobs took (their records name them)."""
        named = set()
        for kind in self.kinds.values():
            if kind.pooled:
                for record in self.services.ctx.store.all(kind.family.kind, kind.lifecycle.active_statuses):
                    network = record.get("_smlocal", {}).get("network")
                    if network:
                        named.add(network)
        return named

    def _show_waiting(self, kind: JobKind, name: str, note: str) -> None:
        show = kind.show_waiting
        if show is not None:
            Records(self.services.ctx, kind.family).update(name, lambda record: show(record, note))

    def shutdown(self) -> None:
        self.networks.close()      # the spares no job took
        self.scheduler.shutdown()
