"""One settings object for the whole emulator, read from the environment and the CLI.

Defaults (documented in the README):
  SMLOCAL_DATA_DIR   ~/.smlocal        database, embedded S3 data, job logs, runtime file
  SMLOCAL_HOST       127.0.0.1         the gateway binds here (loopback unless asked otherwise)
  SMLOCAL_PORT       4599              SageMaker API, runtime, Logs, STS, IAM on one URL
  SMLOCAL_S3_PORT    4598              the embedded S3 server
  SMLOCAL_REGION     us-east-1
  SMLOCAL_ACCOUNT_ID 123456789012
  SMLOCAL_DOCKER_NETWORK         ""  Docker network for job containers (default bridge)
  SMLOCAL_S3_CONTAINER_ENDPOINT  ""  S3 URL containers use with --s3-endpoint (default: the same URL)
  SMLOCAL_MAX_CONCURRENT_JOBS    4   jobs running at once; the others wait in Starting
  SMLOCAL_STOP_GRACE_SECONDS   120   SIGTERM -> SIGKILL grace on Stop and MaxRuntime (SageMaker's value)
  SMLOCAL_INSTANCE_LIMITS       on   off: no CPU/memory limits from the instance type
  SMLOCAL_CONSOLE_HOSTS          ""  extra host names the web console answers to (comma-separated)
  SMLOCAL_TAR_MAX_MEMBERS   1000000   user tarballs (model data): most members extracted
  SMLOCAL_TAR_MAX_BYTES     64 GiB    ... most bytes once extracted, all members together
  SMLOCAL_TAR_MAX_MEMBER_BYTES 64 GiB ... most bytes of one member
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4599
DEFAULT_S3_PORT = 4598
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"

_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")


def default_data_dir() -> Path:
    return Path(os.environ.get("SMLOCAL_DATA_DIR") or Path.home() / ".smlocal").expanduser()


@dataclass(frozen=True)
class S3Settings:
    """Where the emulator's S3 lives, as seen from the host and from containers."""

    endpoint: str                 # URL the emulator and host clients use
    access_key: str
    secret_key: str
    container_endpoint: str = ""  # URL containers on the Docker bridge use ("" = same as endpoint)

    @property
    def for_containers(self) -> str:
        return self.container_endpoint or self.endpoint


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


@dataclass(frozen=True)
class ArchiveLimits:
    """Caps on extracting a user's tarball (``emulator.infra.safe_tar``): a gzip bomb or a
    million-member archive fails the endpoint or job with a reason instead of filling the disk."""

    max_members: int = field(default_factory=lambda: _env_int("SMLOCAL_TAR_MAX_MEMBERS", 1_000_000))
    max_total_bytes: int = field(default_factory=lambda: _env_int("SMLOCAL_TAR_MAX_BYTES", 64 * 1024 ** 3))
    max_member_bytes: int = field(default_factory=lambda: _env_int("SMLOCAL_TAR_MAX_MEMBER_BYTES", 64 * 1024 ** 3))


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=default_data_dir)
    host: str = field(default_factory=lambda: os.environ.get("SMLOCAL_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(os.environ.get("SMLOCAL_PORT", DEFAULT_PORT)))
    s3_port: int = field(default_factory=lambda: int(os.environ.get("SMLOCAL_S3_PORT", DEFAULT_S3_PORT)))
    region: str = field(default_factory=lambda: os.environ.get("SMLOCAL_REGION", DEFAULT_REGION))
    account_id: str = field(default_factory=lambda: os.environ.get("SMLOCAL_ACCOUNT_ID", DEFAULT_ACCOUNT_ID))
    s3: S3Settings | None = None
    # Docker network job containers join ("" = the default bridge); compose sets its own network
    docker_network: str = field(default_factory=lambda: os.environ.get("SMLOCAL_DOCKER_NETWORK", ""))
    max_body_bytes: int = 16 * 1024 * 1024   # control-plane request bodies (SageMaker's largest are KBs)
    # jobs running at once (the rest wait in Starting) and SIGTERM->SIGKILL grace (SageMaker: 120 s)
    max_concurrent_jobs: int = field(default_factory=lambda: int(os.environ.get("SMLOCAL_MAX_CONCURRENT_JOBS", 4)))
    stop_grace_seconds: float = field(
        default_factory=lambda: float(os.environ.get("SMLOCAL_STOP_GRACE_SECONDS", 120)))
    # how long the SageMaker SDK's first Describe of a new job is held until the job ends (sdk_wait.py)
    sdk_describe_wait: float = field(
        default_factory=lambda: float(os.environ.get("SMLOCAL_SDK_DESCRIBE_WAIT", 60)))
    # names (besides loopback and the bind address) browsers may use for the console (Host check)
    console_hosts: tuple[str, ...] = field(default_factory=lambda: tuple(
        h.strip() for h in os.environ.get("SMLOCAL_CONSOLE_HOSTS", "").split(",") if h.strip()))
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)

    def __post_init__(self) -> None:
        if not _REGION_RE.match(self.region):
            raise ValueError(f"region {self.region!r} is not an AWS region name such as us-east-1")
        if not _ACCOUNT_RE.match(self.account_id):
            raise ValueError(f"account id {self.account_id!r} must be 12 digits")

    # --- derived paths -----------------------------------------------------------------------
    @property
    def db_path(self) -> Path:
        return self.data_dir / "state.db"

    @property
    def s3_data_dir(self) -> Path:
        return self.data_dir / "s3"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def runtime_file(self) -> Path:
        return self.data_dir / "runtime.json"

    @property
    def sdk_config_file(self) -> Path:
        return self.data_dir / "sagemaker-sdk-config.yaml"

    @property
    def gateway_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def default_bucket(self) -> str:
        return f"sagemaker-{self.region}-{self.account_id}"

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)
