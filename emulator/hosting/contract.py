"""What an inference container sees, as SageMaker sets it up (docs/container-contract.md section 4).

Pure functions from the model, the variant and the platform settings to a ContainerSpec:
``serve`` as the command (the image's ENTRYPOINT kept), the model artifacts in ``/opt/ml/model``,
the container's Environment plus the platform's S3 endpoint and keys (none under network
isolation), port 8080 published on loopback only, labels that let restart recovery and
``smlocal down`` find the container.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.domain.models import model_containers
from emulator.infra.containers import ContainerSpec
from emulator.infra.platform import PlatformEnv
from emulator.infra.serving import PORT, serving_environment

KIND = "endpoint"
PRIMARY = "primary"       # how SageMaker names a single-container model in errors and logs
MIB = 1024 * 1024


def container_hostname(model: dict[str, Any], position: int) -> str:
    containers = model_containers(model)
    if len(containers) == 1 and not containers[0].get("ContainerHostname"):
        return PRIMARY
    return containers[position].get("ContainerHostname") or f"container-{position + 1}"


def execution_mode(model: dict[str, Any]) -> str:
    return (model.get("InferenceExecutionConfig") or {}).get("Mode", "Serial")


def labels(endpoint: str, deployment: str | None = None, variant: str | None = None,
           instance: int | None = None, position: int | None = None) -> dict[str, str]:
    found = {"org.smlocal.kind": KIND, "org.smlocal.endpoint": endpoint}
    if deployment is not None:
        found["org.smlocal.deployment"] = deployment
    if variant is not None:
        found["org.smlocal.variant"] = variant
    if instance is not None:
        found["org.smlocal.instance"] = str(instance)
    if position is not None:
        found["org.smlocal.position"] = str(position)
    return found


def container_name(endpoint: str, deployment: str, variant: str, instance: int, position: int) -> str:
    return f"smlocal-ep-{endpoint}-{deployment}-{variant}-{instance + 1}-{position + 1}"


def isolation_network(endpoint: str, deployment: str) -> str:
    return f"smlocal-ep-{endpoint}-{deployment}"


@dataclass(frozen=True)
class Placement:
    """One container of one instance of one variant of one deployment."""

    endpoint: str
    deployment: str
    variant: str
    instance: int
    position: int


def container_spec(model: dict[str, Any], where: Placement, image: str, model_dir: Path | None,
                   platform: PlatformEnv, limits: tuple[int | None, int | None], docker_network: str = ""
                   ) -> ContainerSpec:
    container = model_containers(model)[where.position]
    isolated = bool(model.get("EnableNetworkIsolation"))
    binds = [(str(model_dir), "/opt/ml/model", False)] if model_dir is not None else []
    hostname = container.get("ContainerHostname") or "model.aws.local"
    return ContainerSpec(
        name=container_name(where.endpoint, where.deployment, where.variant, where.instance, where.position),
        image=image, command=["serve"], environment=serving_environment(container, platform, isolated),
        hostname=hostname,
        # isolated: an internal network (no route out) reached by the container's address;
        # otherwise the usual network, port 8080 published on loopback only
        network=isolation_network(where.endpoint, where.deployment) if isolated else (docker_network or None),
        binds=binds,
        labels=labels(where.endpoint, where.deployment, where.variant, where.instance, where.position),
        nano_cpus=limits[0], mem_limit=limits[1],
        extra_hosts={} if isolated else {"host.docker.internal": "host-gateway"},
        ports={} if isolated else {f"{PORT}/tcp": ("127.0.0.1", None)},
    )


def serverless_limits(variant: dict[str, Any]) -> tuple[int | None, int | None]:
    """A serverless variant runs as one container with its MemorySizeInMB (no CPU cap)."""
    memory = (variant.get("ServerlessConfig") or {}).get("MemorySizeInMB")
    return None, int(memory) * MIB if memory else None
