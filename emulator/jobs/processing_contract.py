"""What a processing container sees, as SageMaker sets it up (docs/container-contract.md section 3).

Pure functions from the CreateProcessingJob record to config files and a ContainerSpec:

- ``/opt/ml/config/processingjobconfig.json`` (the request echoed, unset members as null) and
  ``/opt/ml/config/resourceconfig.json`` (``current_host``, ``hosts``);
- no command of smlocal's own: the image's ENTRYPOINT/CMD unless AppSpecification overrides them;
- platform environment (region, S3 endpoint and keys) plus the request's Environment, nothing else;
- ``/opt/ml/processing`` is one directory per host: inputs are downloaded to, and outputs uploaded
  from, their LocalPath inside it, so nested or shared LocalPaths behave as on one instance disk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.domain.processing import ROOT, local_relative
from emulator.infra.containers import ContainerSpec
from emulator.infra.platform import (
    PlatformEnv,
    host_names,
    job_labels,
    job_networking,
    platform_environment,
    region_environment,
)

KIND = "processing-job"
def instance_count(job: dict[str, Any]) -> int:
    return job["ProcessingResources"]["ClusterConfig"].get("InstanceCount", 1)


def instance_type(job: dict[str, Any]) -> str:
    return job["ProcessingResources"]["ClusterConfig"].get("InstanceType", "")


def resource_config(job: dict[str, Any], current_host: str) -> dict[str, Any]:
    return {"current_host": current_host, "hosts": sorted(host_names(instance_count(job)))}   # as training


def processing_job_config(job: dict[str, Any]) -> dict[str, Any]:
    """The request as the container reads it back; members the request left out are null."""
    app = job["AppSpecification"]
    cluster = job["ProcessingResources"]["ClusterConfig"]
    output_config = job.get("ProcessingOutputConfig")
    return {
        "ProcessingJobArn": job["ProcessingJobArn"],
        "ProcessingJobName": job["ProcessingJobName"],
        "Environment": job.get("Environment") or None,
        "AppSpecification": {"ImageUri": app["ImageUri"], "ContainerEntrypoint": app.get("ContainerEntrypoint"),
                             "ContainerArguments": app.get("ContainerArguments")},
        "ProcessingInputs": job.get("ProcessingInputs") or None,
        "ProcessingOutputConfig": None if output_config is None else {
            "KmsKeyId": output_config.get("KmsKeyId"), "Outputs": output_config.get("Outputs", [])},
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": cluster["InstanceCount"], "InstanceType": cluster["InstanceType"],
            "VolumeSizeInGB": cluster.get("VolumeSizeInGB"), "VolumeKmsKeyId": cluster.get("VolumeKmsKeyId")}},
        "NetworkConfig": job.get("NetworkConfig"),
        "RoleArn": job.get("RoleArn"),
        "StoppingCondition": job.get("StoppingCondition"),
    }


def config_files(job: dict[str, Any], current_host: str) -> dict[str, str]:
    """File name (under /opt/ml/config) -> JSON text."""
    return {"processingjobconfig.json": json.dumps(processing_job_config(job)),
            "resourceconfig.json": json.dumps(resource_config(job, current_host))}


def command(job: dict[str, Any]) -> tuple[list[str] | None, list[str] | None]:
    """(entrypoint, command): Docker's rules, as SageMaker applies them (docs/container-contract.md 3.1)."""
    app = job["AppSpecification"]
    return app.get("ContainerEntrypoint"), app.get("ContainerArguments")


def environment(job: dict[str, Any], platform: PlatformEnv) -> dict[str, str]:
    """SageMaker's variables; network isolation withholds the S3 endpoint and keys (no credentials)."""
    env = region_environment(platform) if isolated(job) else platform_environment(platform)
    env.update(job.get("Environment") or {})
    return env


def isolated(job: dict[str, Any]) -> bool:
    return bool((job.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))


@dataclass(frozen=True)
class HostLayout:
    """Where one host's /opt/ml pieces live on the machine running Docker."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    def local(self, local_path: str) -> Path:
        """The host directory behind a LocalPath (validated at Create)."""
        relative = local_relative(local_path)
        if relative is None:
            raise ValueError(f"LocalPath {local_path!r} is not below {ROOT}/")
        return self.processing.joinpath(*relative.split("/"))

    def create(self) -> None:
        for path in (self.config, self.output, self.processing):
            path.mkdir(parents=True, exist_ok=True)


def labels(job_name: str, host: str | None = None) -> dict[str, str]:
    return job_labels(KIND, job_name, host)


def container_name(job_name: str, host: str) -> str:
    return f"smlocal-proc-{job_name}-{host}"


def network_name(job_name: str) -> str:
    return f"smlocal-proc-{job_name}"


def container_spec(job: dict[str, Any], host: str, image: str, layout: HostLayout, platform: PlatformEnv,
                   limits: tuple[int | None, int | None], extra_network: str = "") -> ContainerSpec:
    entrypoint, arguments = command(job)
    name = job["ProcessingJobName"]
    no_network = isolated(job)
    where = job_networking(network_name(name), host, instance_count(job), no_network, extra_network)
    return ContainerSpec(
        name=container_name(name, host), image=image, command=arguments, entrypoint=entrypoint,
        environment=environment(job, platform), hostname=host, network=where.network, aliases=where.aliases,
        binds=[(str(layout.config), "/opt/ml/config", False), (str(layout.output), "/opt/ml/output", False),
               (str(layout.processing), ROOT, False)],
        labels=labels(name, host), extra_networks=where.extra_networks,
        nano_cpus=limits[0], mem_limit=limits[1],
        extra_hosts={} if no_network else {"host.docker.internal": "host-gateway"},
    )
