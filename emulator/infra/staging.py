"""Moving job data between S3 and host directories, laid out exactly as SageMaker does.

Inputs (docs/container-contract.md 1.6, 3.2): :func:`list_objects` resolves a channel's
``S3Prefix`` or ``ManifestFile`` data source into :class:`S3Object` records (key + where it lands
under the channel directory), :func:`shard` applies ``S3DataDistributionType`` and :func:`download`
fetches them in parallel; :func:`download_prefix` brings checkpoints back. Outputs go the other way
in ``emulator.infra.uploads``.

Every failure a user can cause or fix (missing bucket, empty prefix, bad manifest, hostile key,
full disk, unreachable endpoint) is a :class:`StagingError` whose message names the object or
URI; the job runner turns it into ``FailureReason = "ClientError: <message>"``.

Nothing is ever written outside the destination directory: relative paths are checked lexically
(no absolute paths, ``..`` or NUL) and every directory created is resolved against the destination.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import posixpath
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import urllib3
from minio.error import MinioException, ServerError
from minio.error import S3Error as MinioS3Error

from emulator.s3.client import S3Client, S3Error, split_uri

log = logging.getLogger(__name__)

MAX_MANIFEST_BYTES = 64 * 1024 * 1024
MAX_MANIFEST_ENTRIES = 1_000_000
CHUNK_SIZE = 1024 * 1024                  # streaming read size (1 MiB beat 8 MiB and fget_object)
RANGED_FROM = 64 * 1024 * 1024            # objects this large are fetched as parallel byte ranges
RANGE_SIZE = 16 * 1024 * 1024
PART_SIZE = 16 * 1024 * 1024              # multipart part size for uploads
GZIP_LEVEL = 3                            # as small as gzip -6 (GNU default) on CSV, 5x faster
PROGRESS_INTERVAL = 0.25                  # seconds between progress callbacks
SUPPORTED_DATA_TYPES = ("S3Prefix", "ManifestFile")
DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")

Progress = Callable[[int, int, int, int], None]   # (done_objects, total_objects, done_bytes, total_bytes)
_T = TypeVar("_T")
_R = TypeVar("_R")
_NETWORK_ERRORS = (MinioException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)


class StagingError(Exception):
    """Moving job data failed; ``str()`` is user-facing and names the object or URI involved."""


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int
    relative_path: str        # POSIX path under the channel directory

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class TransferStats:
    objects: int
    bytes: int
    seconds: float


def human_size(size: float) -> str:
    """Decimal units, as the AWS console shows them: ``12.3 MB``."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


# --- paths -------------------------------------------------------------------------------------

def relative_path_for(prefix: str, key: str) -> str:
    """Where ``key`` lands for S3Prefix ``prefix``. A prefix that names a "directory" of the key
    (``data/train`` for ``data/train/x.csv``, with or without the trailing slash) is removed with its
    slash: ``x.csv`` (AWS's SDK 3 relies on this: channel ``.../input/sm_drivers`` is read as
    ``/opt/ml/input/data/sm_drivers/sm_train.sh``). A prefix that ends inside a name (``data/train`` for
    ``data/train-a.csv``) keeps the whole name: the key minus the prefix's directory part
    (aws/sagemaker-python-sdk#3612 shows SageMaker naming such files ``train-a.csv``)."""
    rest = key[len(prefix):]
    if prefix and (prefix.endswith("/") or rest.startswith("/")):
        return rest.lstrip("/")
    return key[prefix.rfind("/") + 1:]


def check_relative_path(relative: str, source: str) -> str:
    """``relative`` normalised, or StagingError if it could escape the channel directory."""
    problem = None
    if not relative:
        problem = "is empty"
    elif "\x00" in relative:
        problem = "contains a NUL character"
    elif relative.startswith("/"):
        problem = "is absolute"
    elif ".." in relative.split("/"):
        problem = "contains a '..' segment"
    else:
        relative = posixpath.normpath(relative)
        if relative in (".", ""):
            problem = "does not name a file"
    if problem:
        raise StagingError(f"cannot place {source} on disk: its local path {relative!r} {problem}")
    return relative


def local_path(dest: Path, relative: str, source: str = "an S3 object") -> Path:
    """``dest / relative`` after :func:`check_relative_path`, checked to stay under ``dest``."""
    relative = check_relative_path(relative, source)
    root = dest.resolve()
    target = root.joinpath(*relative.split("/"))
    if not _inside(target.parent.resolve(), root):
        raise StagingError(f"cannot place {source} on disk: {relative!r} resolves outside {dest}")
    return target


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


# --- listing -----------------------------------------------------------------------------------

def list_objects(client: S3Client, data_type: str, s3_uri: str) -> list[S3Object]:
    """The objects of one input data source, sorted by key; StagingError when there are none."""
    if data_type == "S3Prefix":
        objects = _list_prefix(client, s3_uri)
    elif data_type == "ManifestFile":
        objects = _manifest_objects(client, s3_uri)
    else:
        raise StagingError(f"S3DataType {data_type!r} is not supported by smlocal "
                           f"(supported: {', '.join(SUPPORTED_DATA_TYPES)})")
    if not objects:
        bucket = _split(s3_uri)[0]
        raise StagingError(
            f'No S3 objects found under S3 URL "{s3_uri}" given in input data source. Please ensure that the '
            f"bucket exists in the selected region ({client.region}), that objects exist under that S3 prefix, "
            f'and that the role has "s3:ListBucket" permissions on bucket "{bucket}".')
    return objects


def _split(uri: str, where: str = "") -> tuple[str, str]:
    try:
        return split_uri(uri)
    except S3Error as exc:
        raise StagingError(f"{where}: {exc}" if where else str(exc)) from None


def _list_prefix(client: S3Client, s3_uri: str) -> list[S3Object]:
    bucket, prefix = _split(s3_uri)
    objects = []
    try:
        for item in client.raw.list_objects(bucket, prefix=prefix, recursive=True):
            key = item.object_name or ""
            if not key or key.endswith("/"):
                continue                                 # folder markers
            relative = check_relative_path(relative_path_for(prefix, key), f"s3://{bucket}/{key}")
            objects.append(S3Object(bucket, key, int(item.size or 0), relative))
    except (*_NETWORK_ERRORS, ValueError) as exc:
        raise _failure(client, exc, f'cannot list S3 URL "{s3_uri}"', bucket) from None
    return sorted(objects, key=lambda o: o.key)


def parse_manifest(data: bytes, manifest_uri: str) -> list[tuple[str, str, str]]:
    """(bucket, key, relative path) of every entry of a SageMaker manifest file, deduplicated.

    Format: ``[{"prefix": "s3://bucket/prefix/"}, "relative/key1", ...]``. A prefix without a
    trailing ``/`` gets one (inferred: the docs only show prefixes ending in ``/``).
    """
    where = f'manifest file "{manifest_uri}"'
    if len(data) > MAX_MANIFEST_BYTES:
        raise StagingError(f"{where} is larger than the {human_size(MAX_MANIFEST_BYTES)} smlocal accepts")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise StagingError(f"{where} is not valid JSON: {exc}") from None
    if (not isinstance(doc, list) or not doc or not isinstance(doc[0], dict)
            or not isinstance(doc[0].get("prefix"), str)):
        raise StagingError(f'{where} must be a JSON array starting with {{"prefix": "s3://bucket/prefix/"}}')
    if len(doc) - 1 > MAX_MANIFEST_ENTRIES:
        raise StagingError(f"{where} lists {len(doc) - 1} objects; smlocal accepts at most {MAX_MANIFEST_ENTRIES}")
    bucket, prefix = _split(doc[0]["prefix"], f"{where}: prefix")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    entries: dict[str, tuple[str, str, str]] = {}
    for index, entry in enumerate(doc[1:], start=1):
        if not isinstance(entry, str):
            raise StagingError(f"{where}: entry {index} is {type(entry).__name__}, not a string key")
        relative = check_relative_path(entry, f'entry {index} ({entry!r}) of {where}')
        entries.setdefault(prefix + entry, (bucket, prefix + entry, relative))
    return [entries[key] for key in sorted(entries)]


def _manifest_objects(client: S3Client, s3_uri: str, workers: int = 8) -> list[S3Object]:
    bucket, key = _split(s3_uri)
    what = f'cannot read manifest file "{s3_uri}"'
    try:
        size = client.raw.stat_object(bucket, key).size or 0
        if size > MAX_MANIFEST_BYTES:
            raise StagingError(f'manifest file "{s3_uri}" is larger than the '
                               f"{human_size(MAX_MANIFEST_BYTES)} smlocal accepts")
        response = client.raw.get_object(bucket, key)
        try:
            data = response.read(MAX_MANIFEST_BYTES + 1)
        finally:
            response.close()
            response.release_conn()
    except (*_NETWORK_ERRORS, ValueError) as exc:
        raise _failure(client, exc, what, bucket, key) from None
    entries = parse_manifest(data, s3_uri)

    def stat_entry(entry: tuple[str, str, str]) -> S3Object:
        obj_bucket, obj_key, relative = entry
        try:
            info = client.raw.stat_object(obj_bucket, obj_key)
        except (*_NETWORK_ERRORS, ValueError) as exc:
            raise _failure(client, exc, f's3://{obj_bucket}/{obj_key} listed in manifest file "{s3_uri}"',
                           obj_bucket, obj_key) from None
        return S3Object(obj_bucket, obj_key, int(info.size or 0), relative)

    return _parallel(stat_entry, entries, workers, "s3-stat")


def shard(objects: Iterable[S3Object], host_index: int, host_count: int, distribution: str) -> list[S3Object]:
    """This host's objects: all of them (FullyReplicated) or every ``host_count``-th by key (ShardedByS3Key)."""
    if not 0 <= host_index < host_count:
        raise ValueError(f"host_index {host_index} is not in 0..{host_count - 1}")
    ordered = sorted(objects, key=lambda o: (o.bucket, o.key))
    if distribution == "FullyReplicated":
        return ordered
    if distribution == "ShardedByS3Key":
        return ordered[host_index::host_count]
    raise StagingError(f"S3DataDistributionType {distribution!r} is not supported "
                       f"(supported: {', '.join(DISTRIBUTIONS)})")


# --- download ----------------------------------------------------------------------------------

def _parallel(fn: Callable[[_T], _R], items: Sequence[_T], workers: int, name: str,
              tick: Callable[[], None] | None = None, stop: threading.Event | None = None) -> list[_R]:
    """``[fn(item) for item in items]`` on ``workers`` threads pulling from a shared index.

    A fixed set of threads (not one future per item) keeps a million items cheap. The first
    exception sets ``stop``, lets the other threads finish their current item and is re-raised.
    ``tick`` runs on the calling thread every ``PROGRESS_INTERVAL`` seconds.
    """
    results: list[Any] = [None] * len(items)
    stop = stop or threading.Event()
    lock, position = threading.Lock(), [0]

    def run() -> None:
        while not stop.is_set():
            with lock:
                index = position[0]
                position[0] += 1
            if index >= len(items):
                return
            results[index] = fn(items[index])

    count = max(1, min(workers, len(items)))
    with cf.ThreadPoolExecutor(count, thread_name_prefix=name) as pool:
        futures = [pool.submit(run) for _ in range(count)]
        try:
            while True:
                done, pending = cf.wait(futures, timeout=PROGRESS_INTERVAL, return_when=cf.FIRST_EXCEPTION)
                for future in done:
                    future.result()
                if not pending:
                    break
                if tick:
                    tick()
        except BaseException:
            stop.set()
            raise
    return results


class _Tally:
    """Thread-safe progress counters."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects = 0
        self.bytes = 0

    def add(self, nbytes: int = 0, objects: int = 0) -> None:
        with self.lock:
            self.bytes += nbytes
            self.objects += objects


def download(client: S3Client, objects: list[S3Object], dest: Path, progress: Progress | None = None,
             workers: int = 8, *, label: str | None = None) -> TransferStats:
    """Fetch ``objects`` to ``dest/<relative_path>`` with ``workers`` threads, streaming to disk.

    Each file is written as ``.smlocal-<uuid>.part`` in its directory then renamed, so a partial
    download never looks complete. ``progress`` is called from this thread at most every
    ``PROGRESS_INTERVAL`` seconds and once at the end with the totals. ``label`` names the data in
    the disk-space error (default: ``dest``).
    """
    started = time.monotonic()
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StagingError(f"cannot create {dest}: {exc.strerror}") from None
    targets = _targets(objects, dest)
    total = sum(o.size for o in objects)
    need = total + total // 100 + 16 * 1024 * 1024            # metadata, rounding to blocks
    free = shutil.disk_usage(dest).free
    if need > free:
        raise StagingError(f"not enough disk space for {label or dest}: need {human_size(need)}, "
                           f"{human_size(free)} free")
    _make_dirs(targets, dest)
    tally, stop = _Tally(), threading.Event()
    last = [time.monotonic()]

    def tick() -> None:
        if progress and time.monotonic() - last[0] >= PROGRESS_INTERVAL:
            last[0] = time.monotonic()
            progress(tally.objects, len(objects), tally.bytes, total)

    whole = [(o, t) for o, t in zip(objects, targets, strict=True) if o.size < RANGED_FROM]
    _parallel(lambda item: _fetch(client, item[0], item[1], tally, stop), whole,
              workers, "s3-download", tick=tick, stop=stop)
    for obj, target in zip(objects, targets, strict=True):
        if obj.size >= RANGED_FROM:     # one at a time, its ranges in parallel: like boto3's download_file
            _fetch_ranged(client, obj, target, tally, stop, workers, tick)
    if progress:
        progress(tally.objects, len(objects), tally.bytes, total)
    return TransferStats(len(objects), tally.bytes, time.monotonic() - started)


def _targets(objects: list[S3Object], dest: Path) -> list[Path]:
    """Target file of every object; two objects on one path, or a file where a directory must be, refused."""
    root = dest.resolve()
    targets: list[Path] = []
    owner: dict[Path, S3Object] = {}
    for obj in objects:
        relative = check_relative_path(obj.relative_path, obj.uri)
        target = root.joinpath(*relative.split("/"))
        if target in owner:
            raise StagingError(f"{obj.uri} and {owner[target].uri} would both be written to {relative!r}")
        owner[target] = obj
        targets.append(target)
    for target in targets:
        for parent in target.parents:
            if parent == root:
                break
            if parent in owner:
                raise StagingError(f"{owner[target].uri} needs {parent.relative_to(root)} to be a directory, "
                                   f"but {owner[parent].uri} is a file of that name")
    return targets


def _make_dirs(targets: list[Path], dest: Path) -> None:
    root = dest.resolve()
    for folder in sorted({t.parent for t in targets}):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StagingError(f"cannot create directory {folder}: {exc.strerror}") from None
        if not _inside(folder.resolve(), root):
            raise StagingError(f"cannot place S3 objects in {folder}: it resolves outside {dest}")


def _fetch(client: S3Client, obj: S3Object, target: Path, tally: _Tally, stop: threading.Event) -> None:
    if stop.is_set():
        return
    tmp = target.parent / f".smlocal-{uuid.uuid4().hex}.part"
    response = None
    try:
        response = client.raw.get_object(obj.bucket, obj.key)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb", buffering=0) as out:
            while not stop.is_set():
                data = response.read(CHUNK_SIZE)
                if not data:
                    break
                out.write(data)
                tally.add(len(data))
        if stop.is_set():
            tmp.unlink(missing_ok=True)
            return
        os.replace(tmp, target)
        tally.add(objects=1)
    except (*_NETWORK_ERRORS, ValueError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise _failure(client, exc, f"cannot download {obj.uri}", obj.bucket, obj.key) from None
    finally:
        if response is not None:
            response.close()
            response.release_conn()


def _fetch_ranged(client: S3Client, obj: S3Object, target: Path, tally: _Tally, stop: threading.Event,
                  workers: int, tick: Callable[[], None]) -> None:
    """A large object as ``RANGE_SIZE`` byte ranges written in place into a pre-sized part file."""
    tmp = target.parent / f".smlocal-{uuid.uuid4().hex}.part"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise _failure(client, exc, f"cannot download {obj.uri}", obj.bucket, obj.key) from None
    try:
        os.ftruncate(fd, obj.size)

        def fetch(offset: int) -> None:
            if stop.is_set():
                return
            length, response = min(RANGE_SIZE, obj.size - offset), None
            try:
                response = client.raw.get_object(obj.bucket, obj.key, offset=offset, length=length)
                position = offset
                while not stop.is_set() and (data := response.read(CHUNK_SIZE)):
                    os.pwrite(fd, data, position)
                    position += len(data)
                    tally.add(len(data))
                if not stop.is_set() and position != offset + length:
                    raise StagingError(f"cannot download {obj.uri}: the object changed while it was read")
            except (*_NETWORK_ERRORS, ValueError, OSError) as exc:
                raise _failure(client, exc, f"cannot download {obj.uri}", obj.bucket, obj.key) from None
            finally:
                if response is not None:
                    response.close()
                    response.release_conn()

        _parallel(fetch, range(0, obj.size, RANGE_SIZE), workers, "s3-range", tick=tick, stop=stop)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    os.close(fd)
    if stop.is_set():
        tmp.unlink(missing_ok=True)
        return
    os.replace(tmp, target)
    tally.add(objects=1)


def download_prefix(client: S3Client, s3_uri_prefix: str, dest: Path, workers: int = 8) -> TransferStats:
    """Everything under the "directory" ``s3_uri_prefix`` (``/`` appended) into ``dest``; empty is fine."""
    uri = s3_uri_prefix if s3_uri_prefix.endswith("/") or _split(s3_uri_prefix)[1] == "" else s3_uri_prefix + "/"
    objects = _list_prefix(client, uri)
    if not objects:
        Path(dest).mkdir(parents=True, exist_ok=True)
        return TransferStats(0, 0, 0.0)
    return download(client, objects, Path(dest), workers=workers, label=uri)


# --- errors ------------------------------------------------------------------------------------

def _failure(client: S3Client, exc: BaseException, what: str, bucket: str, key: str | None = None) -> StagingError:
    """A user-facing StagingError for ``exc`` raised while doing ``what``."""
    if isinstance(exc, StagingError):
        return exc
    if isinstance(exc, MinioS3Error):
        code, message = exc.code or "Error", exc.message or ""
        if code == "NoSuchBucket":
            return StagingError(f'{what}: S3 bucket "{bucket}" does not exist')
        if code in ("NoSuchKey", "ResourceNotFound") and key is not None:
            return StagingError(f"{what}: the object does not exist ({code})")
        if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            return StagingError(f"{what}: access denied by S3 at {client.endpoint} ({code}: {message})")
        return StagingError(f"{what}: {code}: {message}")
    if isinstance(exc, ServerError):
        return StagingError(f"{what}: S3 at {client.endpoint} answered HTTP {exc.status_code}")
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)):
        return StagingError(f"{what}: cannot reach S3 at {client.endpoint} ({_root_cause(exc)})")
    if isinstance(exc, OSError):
        return StagingError(f"{what}: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
    return StagingError(f"{what}: {exc}")


def _root_cause(exc: BaseException) -> str:
    seen: Any = exc
    while getattr(seen, "reason", None) is not None and seen.reason is not seen:
        seen = seen.reason
    if "refused" in str(seen).lower():
        return "connection refused"
    return f"{type(seen).__name__}: {seen}"
