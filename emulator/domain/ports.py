"""What the domain asks of the runtimes above it, as protocols: the domain starts work by name and
never imports the job or hosting runtimes that do it (``emulator.jobs``, ``emulator.hosting``)."""

from __future__ import annotations

from typing import Any, Protocol

from emulator.domain.families import Family


class JobLauncher(Protocol):
    """Runs jobs in the background (``emulator.jobs.job_runtime.JobRuntime``)."""

    def launch(self, family: Family, name: str) -> object: ...

    def stop(self, family: Family, name: str) -> None: ...


class EndpointDeployer(Protocol):
    """Deploys endpoints in the background (``emulator.hosting.endpoint_runtime.HostingRuntime``)."""

    def create(self, name: str) -> None: ...

    def update(self, name: str) -> None: ...

    def delete(self, name: str) -> None: ...

    def reweight(self, name: str, weights: dict[str, float]) -> None: ...

    def current_variants(self, name: str) -> list[dict[str, Any]] | None: ...
