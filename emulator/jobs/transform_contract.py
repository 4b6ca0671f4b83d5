"""What a batch transform container sees, and the settings a job runs with (docs/container-contract.md 5.1).

The container is the model's inference container as hosting starts it (``serve``, the model in
``/opt/ml/model``, the model's Environment plus the platform's S3 endpoint and keys) with the
job's Environment on top, ``SAGEMAKER_BATCH=true`` always and the strategy, payload and
concurrency variables only when the request set them. Each instance is one container on the
job's network, port 8080 published on loopback.

Settings: request values win over the container's ``GET /execution-parameters`` answer, which
wins over SageMaker's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emulator.domain.models import model_containers
from emulator.infra.containers import ContainerSpec
from emulator.infra.platform import PlatformEnv, job_labels, job_networking
from emulator.infra.serving import PORT, serving_environment

KIND = "transform-job"
STRATEGY_ENV = {"SingleRecord": "SINGLE_RECORD", "MultiRecord": "MULTI_RECORD"}
STRATEGY_FROM_ENV = {v: k for k, v in STRATEGY_ENV.items()}
DEFAULT_CONCURRENCY, DEFAULT_STRATEGY, DEFAULT_PAYLOAD_MB = 1, "MultiRecord", 6
DEFAULT_INVOCATION_TIMEOUT, DEFAULT_RETRIES = 600, 3


def instance_count(job: dict[str, Any]) -> int:
    return job["TransformResources"]["InstanceCount"]


def instance_type(job: dict[str, Any]) -> str:
    return job["TransformResources"]["InstanceType"]


def model(job: dict[str, Any]) -> dict[str, Any]:
    """The model the job runs (kept in the record at Create)."""
    return job["_smlocal"]["model"]


def isolated(job: dict[str, Any]) -> bool:
    return bool(model(job).get("EnableNetworkIsolation"))


def labels(job_name: str, host: str | None = None) -> dict[str, str]:
    return job_labels(KIND, job_name, host)


def container_name(job_name: str, host: str) -> str:
    return f"smlocal-transform-{job_name}-{host}"


def network_name(job_name: str) -> str:
    return f"smlocal-transform-{job_name}"


def environment(job: dict[str, Any], platform: PlatformEnv) -> dict[str, str]:
    container = model_containers(model(job))[0]
    env = serving_environment(container, platform, isolated(job))
    env.update(job.get("Environment") or {})
    env["SAGEMAKER_BATCH"] = "true"
    if "BatchStrategy" in job:
        env["SAGEMAKER_BATCH_STRATEGY"] = STRATEGY_ENV[job["BatchStrategy"]]
    if "MaxPayloadInMB" in job:
        env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(job["MaxPayloadInMB"])
    if "MaxConcurrentTransforms" in job:
        env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(job["MaxConcurrentTransforms"])
    return env


def container_spec(job: dict[str, Any], host: str, image: str, model_dir: Path, platform: PlatformEnv,
                   limits: tuple[int | None, int | None], extra_network: str = "") -> ContainerSpec:
    name = job["TransformJobName"]
    no_network = isolated(job)
    where = job_networking(network_name(name), host, instance_count(job), no_network, extra_network)
    return ContainerSpec(
        name=container_name(name, host), image=image, command=["serve"], environment=environment(job, platform),
        hostname=host, network=where.network, aliases=where.aliases,
        binds=[(str(model_dir), "/opt/ml/model", False)],
        labels=labels(name, host), extra_networks=where.extra_networks,
        nano_cpus=limits[0], mem_limit=limits[1],
        extra_hosts={} if no_network else {"host.docker.internal": "host-gateway"},
        ports={} if no_network else {f"{PORT}/tcp": ("127.0.0.1", None)},
    )


@dataclass(frozen=True)
class Settings:
    """How the job sends mini-batches."""

    concurrency: int
    strategy: str
    payload_mb: int
    timeout: float
    retries: int
    content_type: str | None
    accept: str | None


def settings(job: dict[str, Any], container: dict[str, Any] | None) -> Settings:
    """Request > the container's /execution-parameters > SageMaker's defaults."""
    container = container or {}
    concurrency = job.get("MaxConcurrentTransforms") or _positive(container.get("MaxConcurrentTransforms")) \
        or DEFAULT_CONCURRENCY
    strategy = job.get("BatchStrategy") or STRATEGY_FROM_ENV.get(str(container.get("BatchStrategy", "")).upper()) \
        or DEFAULT_STRATEGY
    if "MaxPayloadInMB" in job:
        payload = job["MaxPayloadInMB"]
    else:
        found = _positive(container.get("MaxPayloadInMB"), allow_zero=True)
        payload = DEFAULT_PAYLOAD_MB if found is None else found
    client = job.get("ModelClientConfig") or {}
    return Settings(concurrency, strategy, payload,
                    float(client.get("InvocationsTimeoutInSeconds", DEFAULT_INVOCATION_TIMEOUT)),
                    int(client.get("InvocationsMaxRetries", DEFAULT_RETRIES)),
                    job["TransformInput"].get("ContentType"), job["TransformOutput"].get("Accept"))


def _positive(value: Any, allow_zero: bool = False) -> int | None:
    """A usable number from the container's answer (which smlocal does not trust), else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if value > 100 or value < (0 if allow_zero else 1):
        return None
    return value
