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
  SMLOCAL_JOB_NETWORK_SPARES     2   spare job networks kept ready per kind (jobs/network_pool.py); 0: none
  SMLOCAL_STOP_GRACE_SECONDS   120   SIGTERM -> SIGKILL grace on Stop and MaxRuntime (SageMaker's value)
  SMLOCAL_INSTANCE_LIMITS       on   off: no CPU/memory limits from the instance type
  SMLOCAL_CONSOLE_HOSTS          ""  extra host names the web console answers to (comma-separated)
  SMLOCAL_TAR_MAX_MEMBERS   1000000   user tarballs (model data): most members extracted
  SMLOCAL_TAR_MAX_BYTES     64 GiB    ... most bytes once extracted, all members together
  SMLOCAL_TAR_MAX_MEMBER_BYTES 64 GiB ... most bytes of one member
  SMLOCAL_HOSTS                  ""  extra host names the whole gateway answers to (comma-separated)
  SMLOCAL_AUTH                   on  off: accept unsigned and wrongly signed requests (docs/security.md)
  SMLOCAL_CORS_ORIGINS           ""  browser origins allowed to call the API (comma-separated; none by default)
  SMLOCAL_INVOKE_PROXY           on  off: invocations and JSON calls through the ASGI app too (api/invoke_proxy.py)
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFAULT_PORT = 4599
DEFAULT_S3_PORT = 4598
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"

_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")
_ACCOUNT_RE = re.compile(r"^\d{12}$")


LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
_OFF = ("off", "0", "false", "no")


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in os.environ.get(name, "").split(",") if item.strip())


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
    # spare Docker networks made ahead of jobs, per kind of network (jobs/network_pool.py); 0: none
    job_network_spares: int = field(default_factory=lambda: _env_int("SMLOCAL_JOB_NETWORK_SPARES", 2))
    stop_grace_seconds: float = field(
        default_factory=lambda: float(os.environ.get("SMLOCAL_STOP_GRACE_SECONDS", 120)))
    # an upper bound on every variant's startup /ping window (ContainerStartupHealthCheckTimeoutInSeconds,
    # default 240 s, SageMaker's minimum 60 s); None = the variant's value. For tests of failing pings.
    startup_health_check_cap: float | None = None
    # how long the SageMaker SDK's first Describe of a new job is held until the job ends (sdk_wait.py)
    sdk_describe_wait: float = field(
        default_factory=lambda: float(os.environ.get("SMLOCAL_SDK_DESCRIBE_WAIT", 60)))
    # names (besides loopback and the bind address) browsers may use for the console (Host check)
    console_hosts: tuple[str, ...] = field(default_factory=lambda: _env_list("SMLOCAL_CONSOLE_HOSTS"))
    archive_limits: ArchiveLimits = field(default_factory=ArchiveLimits)
    # names (besides loopback and the bind address) any client may use for the gateway (Host check)
    extra_hosts: tuple[str, ...] = field(default_factory=lambda: _env_list("SMLOCAL_HOSTS"))
    # SigV4: every AWS request must be signed with ``credentials`` (by default the S3 keys, which
    # `smlocal env` hands out). Off: anything on this machine that reaches the port may call.
    auth: bool = field(default_factory=lambda: os.environ.get("SMLOCAL_AUTH", "on").strip().lower() not in _OFF)
    credentials: tuple[str, str] | None = None     # (access key, secret key); None = the S3 keys
    # plain invocations and JSON calls served at uvicorn's protocol level (api/invoke_proxy.py); off: the ASGI app
    invoke_proxy: bool = field(
        default_factory=lambda: os.environ.get("SMLOCAL_INVOKE_PROXY", "on").strip().lower() not in _OFF)
    # browser origins (scheme://host[:port]) allowed to call the API with CORS; none by default
    cors_origins: tuple[str, ...] = field(default_factory=lambda: _env_list("SMLOCAL_CORS_ORIGINS"))
    max_header_bytes: int = 64 * 1024               # request line and headers (h11's incomplete-event cap)
    header_timeout: float = 30.0                    # seconds a client may take to send its headers
    keep_alive_timeout: float = 75.0                # idle keep-alive connections close after this
    body_timeout: float = 60.0                      # a request body may pause this long between chunks
    max_s3_body_bytes: int = 5 * 1024 ** 3          # S3 through the gateway: S3's single-upload limit

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

    @property
    def api_credentials(self) -> tuple[str, str] | None:
        """The keys requests must be signed with: ``credentials``, else the S3 keys."""
        if self.credentials is not None:
            return self.credentials
        if self.s3 is not None and self.s3.access_key and self.s3.secret_key:
            return (self.s3.access_key, self.s3.secret_key)
        return None

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def host_form(name: str) -> str:
    """How a name appears in a Host header: IPv6 addresses in brackets, lower case."""
    name = name.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        return name
    try:
        if isinstance(ipaddress.ip_address(name), ipaddress.IPv6Address):
            return f"[{name}]"
    except ValueError:
        pass
    return name


def served_names(settings: Settings, extra: tuple[str, ...] = ()) -> set[str]:
    """The names and addresses clients may use to reach this gateway (the Host check's list)."""
    names = set(LOOPBACK_NAMES)
    if settings.host in WILDCARDS:
        # bound to every interface: the machine's own names and addresses too
        hostname = socket.gethostname()
        names.update({hostname, socket.getfqdn()})
        try:
            names.update(str(info[4][0]) for info in socket.getaddrinfo(hostname, None))
        except OSError:
            pass
    else:
        names.add(settings.host)
    names.update(extra)
    return {host_form(n) for n in names if n}
