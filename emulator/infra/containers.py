"""The container-runtime seam: what jobs and endpoints need from whatever runs their containers.

``DockerEngine`` (``emulator.infra.docker_engine``) is the one real implementation; the tests' fake
(``tests/fake_runtime.py``) runs job and endpoint lifecycles in memory. A future Kubernetes backend
would implement the same protocol; ``docs/architecture.md`` lists what it has to provide.

Every container and network smlocal creates carries ``MANAGED`` plus labels naming its job or
endpoint, so cleanup and restart recovery find them by label alone. Runtime failures raise
``ContainerError`` with a message a user can act on (it ends up in FailureReasons).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

MANAGED = "org.smlocal.managed"
DEFAULT_PIDS_LIMIT = 4096     # processes and threads per container: a fork bomb stops there


def pids_limit() -> int | None:
    """SMLOCAL_PIDS_LIMIT (a number; 0 or "off": none), else ``DEFAULT_PIDS_LIMIT``."""
    value = os.environ.get("SMLOCAL_PIDS_LIMIT", "").strip().lower()
    if value in ("0", "off", "none", "-1"):
        return None
    return int(value) if value.isdigit() else DEFAULT_PIDS_LIMIT


class ContainerError(Exception):
    """A container-runtime operation failed; ``str()`` says what to do about it."""


@dataclass
class ContainerSpec:
    """Everything needed to run one container; built by pure code, inspectable in tests."""

    name: str
    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    hostname: str | None = None
    network: str | None = None            # a network name, or "none"
    aliases: list[str] = field(default_factory=list)
    extra_networks: list[str] = field(default_factory=list)   # joined too (aliases apply there as well)
    binds: list[tuple[str, str, bool]] = field(default_factory=list)   # (host path, container path, read-only)
    labels: dict[str, str] = field(default_factory=dict)
    nano_cpus: int | None = None
    mem_limit: int | None = None
    extra_hosts: dict[str, str] = field(default_factory=dict)
    ports: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # "8080/tcp" -> (host ip, port)
    working_dir: str | None = None
    pids_limit: int | None = field(default_factory=pids_limit)   # Docker's --pids-limit


@dataclass
class ContainerState:
    id: str
    name: str
    status: str                # created, running, exited, ...
    exit_code: int | None      # None while it runs
    oom_killed: bool
    labels: dict[str, str]


class ContainerRuntime(Protocol):
    """What smlocal asks of a container runtime. Every method may raise ``ContainerError`` unless
    it says otherwise; ``stop``, ``remove`` and ``remove_network`` only log what they cannot do."""

    # images
    def image_exists(self, image: str) -> bool: ...

    # networks: one per job (hosts reach each other by ``aliases``); ``internal`` has no route out;
    # ``host_access`` False: not even to the host's own addresses (network isolation of jobs)
    def create_network(self, name: str, labels: dict[str, str], internal: bool = False,
                       host_access: bool = True) -> None: ...
    def remove_network(self, name: str) -> None: ...
    def find_networks(self, labels: dict[str, str]) -> list[tuple[str, dict[str, str]]]: ...

    # containers
    def create(self, spec: ContainerSpec) -> str: ...
    def start_created(self, container_id: str, spec: ContainerSpec) -> None: ...
    def start(self, spec: ContainerSpec) -> str: ...
    def state(self, container_id: str) -> ContainerState | None: ...
    def addresses(self, container_id: str) -> tuple[dict[str, int], dict[str, str]]: ...
    def wait(self, container_id: str, timeout: float | None = None) -> int: ...
    def logs(self, container_id: str, since: float | None = None) -> Iterator[tuple[int, str]]: ...
    def tail(self, container_id: str, lines: int = 20) -> list[str]: ...
    def stop(self, container_id: str, grace_seconds: float, signal: str | None = None) -> None: ...
    def remove(self, container_id: str) -> None: ...
    def find(self, labels: dict[str, str]) -> list[ContainerState]: ...

    # host directories that containers wrote into (possibly as another user)
    def remove_tree(self, path: Path, image: str) -> None: ...
