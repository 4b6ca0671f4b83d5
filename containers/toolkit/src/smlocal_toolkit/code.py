"""User code: fetch `sagemaker_submit_directory` / SAGEMAKER_SUBMIT_DIRECTORY into /opt/ml/code (an S3
URI of sourcedir.tar.gz through the stand-in S3, a local tarball or a local directory) and install its
requirements.txt. Shared by training and serving."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from smlocal_toolkit import safe_tar
from smlocal_toolkit.errors import ClientError

CODE_DIR = "/opt/ml/code"
MAX_ARCHIVE_BYTES = 5 * 1024**3      # refuse absurd sourcedir.tar.gz contents


def s3_client():
    """boto3 S3 client for the stand-in S3: S3_ENDPOINT_URL as AWS's toolkits honour it (Debian's
    botocore predates AWS_ENDPOINT_URL_S3, so both are read here)."""
    import boto3  # the images ship python3-boto3

    endpoint = os.environ.get("S3_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("SAGEMAKER_REGION") or "us-east-1"
    return boto3.client("s3", endpoint_url=endpoint, region_name=region)


def split_s3_uri(uri: str) -> tuple[str, str]:
    rest = uri[len("s3://"):]
    bucket, _, key = rest.partition("/")
    return bucket, key


def safe_extract(archive: str | Path, dest: str | Path) -> None:
    """Extract a tarball with ``safe_tar`` (the same module the emulator uses for model data): no
    ``..``, nothing written through a link, no link leaving ``dest``, no devices, capped sizes."""
    try:
        safe_tar.extract(archive, dest, safe_tar.Limits(max_total_bytes=MAX_ARCHIVE_BYTES,
                                                        max_member_bytes=MAX_ARCHIVE_BYTES))
    except safe_tar.ArchiveError as error:
        raise ClientError(f"{archive}: {error}") from None


def prepare_code(submit_directory: str | None, code_dir: str = CODE_DIR) -> Path:
    """Make the user's code available in ``code_dir``. Skipped when ``code_dir`` already has files
    (the platform or an earlier step staged it there), as AWS's toolkit does."""
    target = Path(code_dir)
    target.mkdir(parents=True, exist_ok=True)
    if any(target.iterdir()) or not submit_directory:
        return target
    if submit_directory.startswith("s3://"):
        bucket, key = split_s3_uri(submit_directory)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "sourcedir.tar.gz"
            try:
                s3_client().download_file(bucket, key, str(local))
            except Exception as error:
                raise ClientError(f"Could not download the user code {submit_directory}: {error}") from error
            safe_extract(local, target)
    elif os.path.isdir(submit_directory):
        if Path(submit_directory).resolve() != target.resolve():
            shutil.copytree(submit_directory, target, dirs_exist_ok=True)
    elif tarfile.is_tarfile(submit_directory):
        safe_extract(submit_directory, target)
    else:
        raise ClientError(f"sagemaker_submit_directory {submit_directory!r} is neither an S3 URI, a directory "
                          "nor a tarball")
    return target


def install_requirements(code_dir: str | Path = CODE_DIR) -> bool:
    """pip-install ``requirements.txt`` when present; True when something was installed. Fails with a
    ClientError carrying pip's last lines when it cannot (no network, unknown package)."""
    requirements = Path(code_dir) / "requirements.txt"
    if not requirements.is_file():
        return False
    lines = [ln.strip() for ln in requirements.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    if not lines:
        return False
    cmd = [sys.executable, "-m", "pip", "install", "-r", str(requirements)]
    print(f"Installing requirements: {' '.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=str(code_dir), capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise ClientError(install_error(requirements, proc.returncode, proc.stdout, proc.stderr))
    return True


_BROKEN_BY = re.compile(r"after connection broken by '(.+?)'\)*: /")
_COULD_NOT_FETCH = re.compile(r"Could not fetch URL \S+: (.+?)(?: - skipping)?$")


def pip_error(stdout: str, stderr: str) -> str:
    """pip's own last error line, plus the network error behind it when pip only says that no version
    was found (a TLS-intercepting proxy, an unreachable index: pip reports those as warnings first)."""
    lines = [line.strip() for line in (stderr + "\n" + stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    last = errors[-1] if errors else (lines[-1] if lines else "(pip printed nothing)")
    causes = [match.group(1) for line in lines for match in [_BROKEN_BY.search(line) or _COULD_NOT_FETCH.search(line)]
              if match]
    if causes and causes[-1] not in last:
        return f"{last} (after: {causes[-1]})"
    return last


def install_error(requirements: Path, returncode: int, stdout: str, stderr: str) -> str:
    return (f"InstallRequirementsError: pip could not install {requirements} (exit {returncode}): "
            f"{pip_error(stdout, stderr)}. Behind a proxy or with a private index, set PIP_INDEX_URL, "
            "PIP_TRUSTED_HOST or PIP_CERT in the job's environment (docs/container-contract.md 2.5), "
            "or bake the packages into your image.")
