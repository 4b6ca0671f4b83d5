"""What a training container sees, as SageMaker sets it up (docs/container-contract.md sections 1 and 8).

Pure functions from the CreateTrainingJob request to config files and a ContainerSpec, so tests
inspect the contract without Docker:

- ``/opt/ml/input/config/{hyperparameters,resourceconfig,inputdataconfig}.json`` (and
  ``checkpointconfig.json`` when CheckpointConfig is given), written before the container starts;
- ``train`` as the command unless ContainerEntrypoint/ContainerArguments say otherwise;
- platform environment only (TRAINING_JOB_NAME/ARN, region, S3 endpoint and keys) plus the
  request's Environment: never ``SM_*``, which belong to the toolkit inside the image.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.infra.containers import ContainerSpec
from emulator.infra.platform import (
    PlatformEnv,
    host_names,
    job_labels,
    job_networking,
    platform_environment,
    region_environment,
)

GROUP = "homogeneousCluster"
DEFAULT_CHECKPOINT_PATH = "/opt/ml/checkpoints"
KIND = "training-job"
SDK_DRIVERS_CHANNEL = "sm_drivers"   # SDK 3's ModelTrainer: sm_train.sh and its drivers, as a channel
MPI_REFUSAL = ("ClientError: ModelTrainer(distributed=MPI(...)) runs SageMaker Python SDK 3's MPI driver, which "
               "needs mpirun, sshd and paramiko in the training image; smlocal's image {image} does not have "
               "them. Use distributed=Torchrun(...) (it runs on smlocal's PyTorch image), or a training image "
               "of your own that has MPI.")


def resource_config(job: dict[str, Any], current_host: str) -> dict[str, Any]:
    hosts = sorted(host_names(job["ResourceConfig"].get("InstanceCount", 1)))
    instance_type = job["ResourceConfig"].get("InstanceType", "ml.m5.large")
    return {
        "current_host": current_host,
        "current_instance_type": instance_type,
        "current_group_name": GROUP,
        "hosts": hosts,
        "instance_groups": [{"instance_group_name": GROUP, "instance_type": instance_type, "hosts": hosts}],
        "network_interface_name": "eth0",
    }


def uses_mpi_driver(drivers_dir: Path) -> bool:
    """The SDK 3 driver script of a staged ``sm_drivers`` channel starts the MPI driver."""
    script = drivers_dir / "sm_train.sh"
    return script.is_file() and "distributed_drivers/mpi_driver.py" in script.read_text(errors="replace")


def channel_mode(job: dict[str, Any], channel: dict[str, Any]) -> str:
    return channel.get("InputMode") or job["AlgorithmSpecification"]["TrainingInputMode"]


def input_data_config(job: dict[str, Any]) -> dict[str, Any]:
    config = {}
    for channel in job.get("InputDataConfig", []):
        s3 = channel["DataSource"].get("S3DataSource", {})
        entry: dict[str, Any] = {}
        if "ContentType" in channel:
            entry["ContentType"] = channel["ContentType"]
        entry.update({
            "TrainingInputMode": channel_mode(job, channel),
            "S3DistributionType": s3.get("S3DataDistributionType", "FullyReplicated"),
            "RecordWrapperType": channel.get("RecordWrapperType", "None"),
        })
        config[channel["ChannelName"]] = entry
    return config


def checkpoint_config(job: dict[str, Any]) -> dict[str, Any] | None:
    checkpoint = job.get("CheckpointConfig")
    if not checkpoint:
        return None
    return {"S3Uri": checkpoint["S3Uri"], "LocalPath": checkpoint.get("LocalPath") or DEFAULT_CHECKPOINT_PATH}


def config_files(job: dict[str, Any], current_host: str) -> dict[str, str]:
    """File name (under /opt/ml/input/config) -> JSON text."""
    files = {
        "hyperparameters.json": job.get("HyperParameters") or {},
        "resourceconfig.json": resource_config(job, current_host),
        "inputdataconfig.json": input_data_config(job),
    }
    checkpoint = checkpoint_config(job)
    if checkpoint:
        files["checkpointconfig.json"] = checkpoint
    return {name: json.dumps(value) for name, value in files.items()}


def command(job: dict[str, Any]) -> tuple[list[str] | None, list[str] | None]:
    """(entrypoint, command) with Docker's override rules (docs/container-contract.md 1.1)."""
    spec = job["AlgorithmSpecification"]
    entrypoint = spec.get("ContainerEntrypoint")
    arguments = spec.get("ContainerArguments")
    if entrypoint is None and arguments is None:
        return None, ["train"]
    return entrypoint, arguments


def environment(job: dict[str, Any], platform: PlatformEnv) -> dict[str, str]:
    """SageMaker's variables; network isolation withholds the S3 endpoint and keys (no credentials)."""
    isolated = bool(job.get("EnableNetworkIsolation"))
    env = region_environment(platform) if isolated else platform_environment(platform)
    env.update(job.get("Environment") or {})
    env["TRAINING_JOB_NAME"] = job["TrainingJobName"]
    env["TRAINING_JOB_ARN"] = job["TrainingJobArn"]
    return env


@dataclass(frozen=True)
class HostLayout:
    """Where one host's /opt/ml pieces live on the machine running Docker."""

    root: Path

    @property
    def input(self) -> Path:
        return self.root / "input"

    @property
    def config(self) -> Path:
        return self.root / "input" / "config"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    def create(self) -> None:
        for path in (self.config, self.input / "data", self.model, self.output / "data", self.checkpoints):
            path.mkdir(parents=True, exist_ok=True)


def labels(job_name: str, host: str | None = None) -> dict[str, str]:
    return job_labels(KIND, job_name, host)


def container_name(job_name: str, host: str) -> str:
    return f"smlocal-train-{job_name}-{host}"


def network_name(job_name: str) -> str:
    return f"smlocal-train-{job_name}"


def container_spec(job: dict[str, Any], host: str, image: str, layout: HostLayout,
                   channels: dict[str, tuple[Path, bool]], platform: PlatformEnv,
                   limits: tuple[int | None, int | None], extra_network: str = "") -> ContainerSpec:
    """The container for one host. ``channels``: channel name -> (host dir, read-only).
    ``extra_network``: a network to join as well (SMLOCAL_DOCKER_NETWORK, where compose's S3 lives)."""
    entrypoint, cmd = command(job)
    binds = [(str(layout.input), "/opt/ml/input", False),
             (str(layout.model), "/opt/ml/model", False),
             (str(layout.output), "/opt/ml/output", False)]
    binds += [(str(path), f"/opt/ml/input/data/{name}", read_only) for name, (path, read_only) in channels.items()]
    checkpoint = checkpoint_config(job)
    if checkpoint:
        binds.append((str(layout.checkpoints), checkpoint["LocalPath"], False))
    isolated = bool(job.get("EnableNetworkIsolation"))
    where = job_networking(network_name(job["TrainingJobName"]), host, job["ResourceConfig"].get("InstanceCount", 1),
                           isolated, extra_network)
    return ContainerSpec(
        name=container_name(job["TrainingJobName"], host), image=image, command=cmd, entrypoint=entrypoint,
        environment=environment(job, platform), hostname=host, network=where.network, aliases=where.aliases,
        binds=binds, labels=labels(job["TrainingJobName"], host), extra_networks=where.extra_networks,
        nano_cpus=limits[0], mem_limit=limits[1],
        extra_hosts={} if isolated else {"host.docker.internal": "host-gateway"},
    )
