"""What a running instance leaves in its data directory, so other shells can find it.

- ``runtime.json``: URLs, process ids, region, account and S3 keys of the running instance;
  written by ``up`` once everything answers, removed by a clean shutdown.
- ``credentials.json``: the embedded S3 server's keys, generated once per data directory.
- ``sagemaker-sdk-config.yaml``: the SageMaker Python SDK defaults file (see ``sdk_config``).
Secrets live in files readable by the owner only.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import string
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from emulator.config import Settings
from emulator.procs import pid_alive


@dataclass
class RuntimeInfo:
    pid: int
    gateway_url: str
    s3_endpoint: str
    access_key: str
    secret_key: str
    region: str
    account_id: str
    data_dir: str
    sdk_config: str
    s3_pid: int | None = None
    s3_container_endpoint: str | None = None
    started_at: float = 0.0
    version: str = ""
    auth: bool = True             # SigV4 required (SMLOCAL_AUTH)
    s3_restarts: int = 0          # times the supervisor started a dead embedded S3 server again

    @classmethod
    def load(cls, path: Path) -> RuntimeInfo | None:
        try:
            data = json.loads(path.read_text())
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None

    def save(self, path: Path) -> None:
        _write_private(path, json.dumps(asdict(self), indent=2) + "\n")

    def gateway_alive(self, timeout: float = 2) -> bool:
        return pid_alive(self.pid) and http_answers(self.gateway_url + "/_smlocal/health", timeout)

    def s3_alive(self, timeout: float = 2) -> bool:
        return http_answers(self.s3_endpoint, timeout)


def http_answers(url: str, timeout: float = 2) -> bool:
    """True when something speaks HTTP at ``url`` (any status code counts)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except (OSError, ValueError):
        return False


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def embedded_credentials(data_dir: Path) -> tuple[str, str]:
    """The embedded S3 server's keys: generated on first use, then stable for the data dir."""
    path = data_dir / "credentials.json"
    try:
        data = json.loads(path.read_text())
        return data["access_key"], data["secret_key"]
    except (OSError, ValueError, KeyError):
        pass
    alphabet = string.ascii_uppercase + string.digits
    access = "SMLOCAL" + "".join(secrets.choice(alphabet) for _ in range(13))
    secret = secrets.token_urlsafe(30)[:40]
    _write_private(path, json.dumps({"access_key": access, "secret_key": secret}) + "\n")
    return access, secret


def write_sdk_config(settings: Settings) -> Path:
    """The SageMaker Python SDK's defaults file: a default bucket (so ``default_bucket()`` does
    not call AWS STS at its hard-coded URL), telemetry off (so nothing is sent to AWS) and the role
    that estimators, processors and models use when the code passes none (``get_execution_role()``
    asks STS at a hard-coded AWS URL too, so code that leaves ``role`` out is what stays local)."""
    role = f"arn:aws:iam::{settings.account_id}:role/SageMakerRole"   # the identity service's role
    config = {
        "SchemaVersion": "1.0",
        "SageMaker": {
            "PythonSDK": {"Modules": {
                "TelemetryOptOut": True,
                "Session": {"DefaultS3Bucket": settings.default_bucket},
            }},
            "TrainingJob": {"RoleArn": role},
            "ProcessingJob": {"RoleArn": role},
            "Model": {"ExecutionRoleArn": role},
        },
    }
    path = settings.sdk_config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by `smlocal up`; named by SAGEMAKER_USER_CONFIG_OVERRIDE.\n"
                    + yaml.safe_dump(config, sort_keys=False))
    return path


def env_lines(info: RuntimeInfo) -> list[str]:
    """``export`` lines for ``eval "$(smlocal env)"``."""
    values = {
        "AWS_ENDPOINT_URL": info.gateway_url,
        # S3 through the gateway too: it lets the SDK's SSE-KMS uploads through (emulator/s3/sse.py)
        "AWS_ENDPOINT_URL_S3": info.gateway_url,
        "AWS_ACCESS_KEY_ID": info.access_key,
        "AWS_SECRET_ACCESS_KEY": info.secret_key,
        "AWS_DEFAULT_REGION": info.region,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": info.sdk_config,
        # later `smlocal logs/status/down` in this shell address the same instance
        "SMLOCAL_DATA_DIR": info.data_dir,
    }
    # a session token from the user's own AWS login would be sent with our keys and refused
    return ["unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN"] + [
        f"export {key}={shlex.quote(value)}" for key, value in values.items()]
