"""The emulator's only way to S3: the `minio` SDK, against MinIO, SeaweedFS or AWS S3 alike.

S3 failures become ``S3Error`` with a message a user can act on; callers turn them into job
FailureReasons or AWS errors.
"""

from __future__ import annotations

import time
import urllib.parse

import minio
import urllib3
from minio.error import MinioException
from minio.error import S3Error as MinioS3Error

from emulator.config import S3Settings


class S3Error(Exception):
    """An S3 operation failed; ``str()`` says what and why."""


def split_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key/prefix`` -> (bucket, key/prefix)."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise S3Error(f"{uri!r} is not an S3 URI of the form s3://bucket/key")
    return parsed.netloc, parsed.path.lstrip("/")


class S3Client:
    def __init__(self, settings: S3Settings, region: str = "us-east-1", timeout: float = 30) -> None:
        url = urllib.parse.urlparse(settings.endpoint)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise S3Error(f"S3 endpoint {settings.endpoint!r} must look like http://host:port")
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=5, read=timeout), maxsize=16,
            retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]))
        self.endpoint = settings.endpoint
        self.region = region
        self._minio = minio.Minio(url.netloc, access_key=settings.access_key,
                                  secret_key=settings.secret_key, secure=url.scheme == "https",
                                  region=region, http_client=http)

    @property
    def raw(self) -> minio.Minio:
        return self._minio

    def _fail(self, action: str, exc: Exception) -> S3Error:
        if isinstance(exc, MinioS3Error):
            return S3Error(f"S3 {action} failed: {exc.code}: {exc.message}")
        return S3Error(f"S3 {action} failed: cannot reach {self.endpoint} ({type(exc).__name__}: {exc})")

    def ensure_bucket(self, bucket: str) -> bool:
        """Create ``bucket`` unless it exists; True when it was created."""
        try:
            if self._minio.bucket_exists(bucket):
                return False
            self._minio.make_bucket(bucket)
            return True
        except MinioS3Error as exc:
            if exc.code in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                return False
            raise self._fail(f"create bucket {bucket}", exc) from None
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise self._fail(f"create bucket {bucket}", exc) from None

    def wait_ready(self, timeout: float = 30) -> None:
        """Block until the server answers an authenticated request (ListBuckets)."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self._minio.list_buckets()
                return
            except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                last = exc
                time.sleep(0.3)
        raise self._fail("ListBuckets", last or TimeoutError("no answer"))
