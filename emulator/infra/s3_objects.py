"""Small S3 objects read whole: a pipeline definition (``PipelineDefinitionS3Location``) and the JSON
property files a pipeline's ``Std:JsonGet`` reads from a processing job's output."""

from __future__ import annotations

from collections.abc import Callable

from minio.error import MinioException

from emulator.errors import ValidationException
from emulator.s3.client import S3Client, S3Error, split_uri

MAX_BYTES = 16 * 1024 * 1024


class ObjectUnreadable(Exception):
    """The object is missing or S3 cannot be reached; ``str()`` says which."""


def read(client: S3Client | None, bucket: str, key: str, version: str | None = None) -> bytes:
    if client is None:
        raise ObjectUnreadable("smlocal runs without S3 (no S3 endpoint configured)")
    response = None
    try:
        response = client.raw.get_object(bucket, key, version_id=version)
        data: bytes = response.read(MAX_BYTES + 1)
    except (MinioException, OSError, ValueError) as exc:
        raise ObjectUnreadable(f"cannot read s3://{bucket}/{key}: {getattr(exc, 'code', None) or exc}") from None
    finally:
        if response is not None:
            response.close()
            response.release_conn()
    if len(data) > MAX_BYTES:
        raise ObjectUnreadable(f"s3://{bucket}/{key} is larger than {MAX_BYTES} bytes")
    return data


def read_uri(client: S3Client | None, uri: str) -> bytes:
    try:
        bucket, key = split_uri(uri)
    except S3Error as exc:
        raise ObjectUnreadable(str(exc)) from None
    return read(client, bucket, key)


def reader(client: S3Client | None) -> Callable[[str, str, str | None], bytes]:
    """``read`` bound to ``client``, answering an unreadable object with SageMaker's ValidationException."""
    def read_or_refuse(bucket: str, key: str, version: str | None) -> bytes:
        try:
            return read(client, bucket, key, version)
        except ObjectUnreadable as exc:
            raise ValidationException(f"Unable to read the pipeline definition from S3: {exc}.") from None
    return read_or_refuse
