"""Model artifacts onto disk: ``ModelDataUrl`` (a ``.tar.gz`` in S3) fetched and extracted safely
into the directory that becomes the container's ``/opt/ml/model``; or, with ``ModelDataSource``
and ``CompressionType: None``, an S3 prefix copied as is.

Tarballs are hostile until proven otherwise: ``emulator.infra.safe_tar`` checks every member itself
(no ``..``, no member written through a link, no link leaving the directory, no devices, capped
member count and sizes from ``Settings.archive_limits``).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from emulator.infra import safe_tar
from emulator.infra.staging import StagingError, download_prefix
from emulator.s3.client import S3Client, S3Error, split_uri

CHUNK = 1024 * 1024


def stage(client: S3Client, container: dict[str, Any], dest: Path,
          limits: safe_tar.LimitsLike = safe_tar.Limits()) -> None:
    """Put the container's model artifacts under ``dest`` (created); nothing to do without any."""
    dest.mkdir(parents=True, exist_ok=True)
    source = (container.get("ModelDataSource") or {}).get("S3DataSource")
    if source is not None:
        uri = source["S3Uri"]
        if source.get("CompressionType", "None") == "None":
            download_prefix(client, uri, dest)
            return
        fetch_and_extract(client, uri, dest, limits)
        return
    if container.get("ModelDataUrl"):
        fetch_and_extract(client, container["ModelDataUrl"], dest, limits)


def fetch_and_extract(client: S3Client, uri: str, dest: Path,
                      limits: safe_tar.LimitsLike = safe_tar.Limits()) -> None:
    try:
        bucket, key = split_uri(uri)
    except S3Error as exc:
        raise StagingError(str(exc)) from None
    archive = dest.parent / f".{dest.name}-{uuid.uuid4().hex}.tar.gz"
    response = None
    try:
        try:
            response = client.raw.get_object(bucket, key)
            fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                while data := response.read(CHUNK):
                    out.write(data)
        except Exception as exc:  # noqa: BLE001 - every S3/network failure becomes a reason
            raise StagingError(f"Failed to download model data from {uri}: {_reason(exc)}") from None
        finally:
            if response is not None:
                response.close()
                response.release_conn()
        extract(archive, dest, uri, limits)
    finally:
        archive.unlink(missing_ok=True)


def extract(archive: Path, dest: Path, uri: str, limits: safe_tar.LimitsLike = safe_tar.Limits()) -> None:
    try:
        safe_tar.extract(archive, dest, limits)
    except safe_tar.UnsafeMember as exc:
        raise StagingError(f"Model data {uri} contains an unsafe member: {exc}.") from None
    except safe_tar.ArchiveTooLarge as exc:
        raise StagingError(f"Model data {uri} is too large to extract: {exc}.") from None
    except safe_tar.BadArchive as exc:
        raise StagingError(f"Model data {uri} is not a valid .tar.gz archive: {exc}. "
                           "ModelDataUrl must point to a gzip-compressed tar file.") from None
    except safe_tar.ArchiveError as exc:
        raise StagingError(f"Model data {uri} could not be extracted: {exc}.") from None


def _reason(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if code:
        return f"{code}: {getattr(exc, 'message', '') or exc}"
    return f"{type(exc).__name__}: {exc}"
