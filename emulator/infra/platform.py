"""What every container smlocal runs gets from the platform, whatever its kind (jobs, endpoints):
the region, where S3 is and its keys, the ``algo-N`` host names, and the labels that let cleanup,
restart recovery and ``smlocal down`` find it again."""

from __future__ import annotations

from dataclasses import dataclass

from emulator.config import Settings


@dataclass(frozen=True)
class PlatformEnv:
    region: str
    s3_endpoint: str          # as containers reach it
    access_key: str
    secret_key: str


def platform(settings: Settings) -> PlatformEnv:
    s3 = settings.s3
    return PlatformEnv(settings.region, s3.for_containers if s3 else "", s3.access_key if s3 else "",
                       s3.secret_key if s3 else "")


def region_environment(platform: PlatformEnv) -> dict[str, str]:
    return {"AWS_REGION": platform.region, "AWS_DEFAULT_REGION": platform.region}


def s3_environment(platform: PlatformEnv) -> dict[str, str]:
    """The S3 endpoint and keys (withheld from network-isolated containers)."""
    return {
        "S3_ENDPOINT_URL": platform.s3_endpoint,           # read by the SageMaker toolkits
        "AWS_ENDPOINT_URL_S3": platform.s3_endpoint,       # read by botocore >= 1.31
        "AWS_ACCESS_KEY_ID": platform.access_key,
        "AWS_SECRET_ACCESS_KEY": platform.secret_key,
    }


def platform_environment(platform: PlatformEnv) -> dict[str, str]:
    """What every job container gets from the platform: region, S3 endpoint and keys."""
    return {**region_environment(platform), **s3_environment(platform)}


def host_names(count: int) -> list[str]:
    """SageMaker's names for the instances of a job: algo-1 ... algo-N."""
    return [f"algo-{i}" for i in range(1, count + 1)]


def job_labels(kind: str, job_name: str, host: str | None = None) -> dict[str, str]:
    """Labels of a job's containers and network (``kind`` is the family's ARN type, e.g. training-job)."""
    found = {"org.smlocal.kind": kind, "org.smlocal.job": job_name}
    if host:
        found["org.smlocal.host"] = host
    return found


@dataclass(frozen=True)
class JobNetworking:
    network: str | None              # None: Docker's default bridge
    aliases: list[str]
    extra_networks: list[str]


def job_networking(job_network: str, host: str, host_count: int, isolated: bool, shared: str = "") -> JobNetworking:
    """Where one host of a job runs: always the job's own network ``job_network`` (its hosts find each
    other as ``algo-N``; an internal one under network isolation), joined to ``shared``
    (SMLOCAL_DOCKER_NETWORK) unless isolated.

    A single host without isolation could skip the network (about 0.1 s of Docker's time per job) and
    run on the default bridge with the endpoint containers; that was tried and reverted: with several
    jobs' containers exiting on that one network at once, Docker 20.10's libnetwork deadlocked (a
    goroutine dump showed container-exit cleanups waiting on the network's and the controller's locks
    in opposite orders), hanging every later network call. One network per job keeps exits apart."""
    return JobNetworking(job_network, [host], [shared] if shared and not isolated else [])
