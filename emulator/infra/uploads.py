"""Job outputs to S3 (docs/container-contract.md 1.8, 3.2): :func:`upload_tarball` packs several hosts'
``/opt/ml/model`` (or ``output/data``) into one ``model.tar.gz``; :func:`upload_tree` copies a
directory file by file (checkpoints, processing outputs). Failures are ``StagingError``s.
"""

from __future__ import annotations

import gzip
import logging
import os
import stat
import tarfile
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, cast

from emulator.infra.container_files import Found, Refused, Under, link_target_inside, open_dir, open_file, walk
from emulator.infra.staging import (
    _NETWORK_ERRORS,
    CHUNK_SIZE,
    GZIP_LEVEL,
    PART_SIZE,
    StagingError,
    TransferStats,
    _failure,
    _parallel,
    _split,
)
from emulator.s3.client import S3Client

log = logging.getLogger(__name__)


Source = Path | Under


def _under(source: Source) -> Under:
    return source if isinstance(source, Under) else Under(Path(source))


def _is_dir(top: Under) -> bool:
    try:
        os.close(open_dir(top))
        return True
    except OSError:
        return False


def _tar_members(sources: Sequence[Source]) -> list[Found]:
    """Archive members of all sources merged at the root; on a name clash the later source wins."""
    chosen: dict[str, Found] = {}
    for source in reversed(sources):
        top = _under(source)
        if not _is_dir(top):
            log.warning("tarball source %s does not exist or is not a directory (links are not followed); "
                        "packing it as empty", top.path)
            continue
        for found in walk(top):
            name = found.name
            if name in chosen or any(p in chosen and not stat.S_ISDIR(chosen[p].info.st_mode)
                                     for p in _ancestors(name)):
                continue                                      # a later source has this name
            if found.link is not None and link_target_inside(found) is None:
                log.warning("not packing symlink %s: it points outside %s", found.where.path, top.path)
                continue
            if not (stat.S_ISREG(found.info.st_mode) or stat.S_ISDIR(found.info.st_mode) or found.link is not None):
                log.warning("not packing %s: not a regular file, directory or symlink", found.where.path)
                continue
            chosen[name] = found
    return [chosen[name] for name in sorted(chosen, key=lambda n: n.split("/"))]


def _ancestors(name: str) -> Iterator[str]:
    while "/" in name:
        name = name.rsplit("/", 1)[0]
        yield name


def _write_tarball(members: list[Found], out: BinaryIO) -> None:
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=GZIP_LEVEL) as gz, \
            tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for found in members:
            info = found.info
            member = tarfile.TarInfo(found.name)
            member.mode, member.mtime = info.st_mode & 0o7777, int(info.st_mtime)
            member.uid, member.gid = info.st_uid, info.st_gid
            if stat.S_ISDIR(info.st_mode):
                member.type = tarfile.DIRTYPE
                tar.addfile(member)
                continue
            if found.link is not None:
                member.type, member.linkname = tarfile.SYMTYPE, found.link
                tar.addfile(member)
                continue
            try:
                fd = open_file(found.where)
            except (Refused, FileNotFoundError) as exc:
                log.warning("not packing %s: %s (changed since it was listed)", found.where.path, exc)
                continue
            except OSError as exc:
                raise StagingError(f"cannot pack {found.where.path}: {exc.strerror or exc}") from None
            try:
                with os.fdopen(fd, "rb") as data:
                    member.size = os.fstat(data.fileno()).st_size
                    tar.addfile(member, data)
            except OSError as exc:
                raise StagingError(f"cannot pack {found.where.path}: {exc.strerror or exc}") from None


class _PipeReader:
    """The read end of the archive pipe; raises the producer's error instead of a clean EOF."""

    def __init__(self, fd: int) -> None:
        self.file = os.fdopen(fd, "rb", buffering=0)
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            return b"".join(iter(lambda: self.read(CHUNK_SIZE), b""))
        buf = bytearray(size)
        view, got = memoryview(buf), 0
        while got < size:
            n = self.file.readinto(view[got:])
            if not n:
                self.finished.wait()
                if self.error is not None:
                    raise self.error
                break
            got += n
        self.size += got
        return bytes(view[:got])


def abort_stale_uploads(client: S3Client, bucket: str, prefix: str, keys: Collection[str]) -> int:
    """Abort the incomplete multipart uploads of ``keys`` (all below ``prefix``) that a run cut short
    left (a crash while uploading). Called before a job uploads the same keys again, so that no
    half-uploaded parts stay behind. Returns how many were aborted; failures are only logged (minio
    has no public call for these S3 operations, hence its underscored ones)."""
    wanted, aborted = set(keys), 0
    key_marker = upload_marker = None
    lister = getattr(client.raw, "_list_multipart_uploads", None)
    abort = getattr(client.raw, "_abort_multipart_upload", None)
    if not wanted or lister is None or abort is None:
        return 0
    try:
        while True:
            listing = lister(bucket, prefix=prefix or None, key_marker=key_marker, upload_id_marker=upload_marker)
            for upload in listing.uploads:
                if upload.object_name in wanted and upload.upload_id:
                    abort(bucket, upload.object_name, upload.upload_id)
                    aborted += 1
            if not listing.is_truncated:
                break
            key_marker, upload_marker = listing.next_key_marker, listing.next_upload_id_marker
    except (*_NETWORK_ERRORS, ValueError) as exc:
        log.warning("cannot abort stale multipart uploads under s3://%s/%s: %s", bucket, prefix, exc)
    if aborted:
        log.info("aborted %d incomplete multipart upload(s) under s3://%s/%s left by a run cut short",
                 aborted, bucket, prefix)
    return aborted


def upload_tarball(client: S3Client, sources: Sequence[Source], s3_uri: str) -> TransferStats:
    """Pack the *contents* of ``sources`` (merged, later wins) as a tar.gz and upload it to ``s3_uri``.

    The archive is streamed: a thread writes the tar.gz into an OS pipe and ``put_object`` reads
    it as a multipart upload of unknown length (``PART_SIZE`` parts, 3 in flight), so memory stays
    at a few parts and compression overlaps the upload. Measured against "tar.gz to a temp file
    next to the sources, then multipart upload" (~200 MB of mixed data, embedded SeaweedFS, 2 CPUs)
    the pipe was faster (see ``bench/staging_throughput.py --tarball``) and needs no scratch disk.
    Symlinks pointing inside their source are stored as symlinks; others are skipped with a warning.
    Sources are read without following links (``container_files``): a container's links never make
    smlocal pack a host file.
    An empty or missing source yields an empty (but valid) archive, as SageMaker always uploads one.
    """
    started = time.monotonic()
    bucket, key = _split(s3_uri)
    abort_stale_uploads(client, bucket, key, {key})
    members = _tar_members(sources)
    read_fd, write_fd = os.pipe()
    reader = _PipeReader(read_fd)

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb", buffering=CHUNK_SIZE) as out:
                _write_tarball(members, out)
        except BaseException as exc:   # noqa: BLE001 - handed to the consumer
            reader.error = exc if isinstance(exc, StagingError) else StagingError(f"cannot pack {s3_uri}: {exc}")
        finally:
            reader.finished.set()

    producer = threading.Thread(target=produce, name="tarball-writer", daemon=True)
    producer.start()
    try:
        client.raw.put_object(bucket, key, cast(BinaryIO, reader), length=-1, part_size=PART_SIZE,
                              content_type="application/x-gzip")
    except StagingError:
        raise
    except (*_NETWORK_ERRORS, ValueError, OSError) as exc:
        raise _failure(client, exc, f"cannot upload {s3_uri}", bucket, key) from None
    finally:
        reader.file.close()                    # unblocks a producer still writing
        producer.join()
    return TransferStats(1, reader.size, time.monotonic() - started)


def upload_tree(client: S3Client, source: Source, s3_uri_prefix: str, workers: int = 8) -> TransferStats:
    """Upload every file under ``source`` to ``<s3_uri_prefix>/<relative path>`` with ``workers`` threads."""
    started = time.monotonic()
    bucket, prefix = _split(s3_uri_prefix)
    files = [(key, where) for key, where, _ in tree_files(source, prefix)]
    abort_stale_uploads(client, bucket, prefix, {key for key, _ in files})
    return upload_files(client, bucket, files, workers, started)


def tree_files(source: Source, prefix: str) -> list[tuple[str, Under, os.stat_result]]:
    """(``prefix``/relative path, file, its stat) of every file under ``source``.

    Symlinks to files inside ``source`` stand for the target's content (reached without following
    any link); symlinks to directories, to anything outside or through other links are skipped with
    a warning.
    """
    prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
    top = _under(source)
    files: list[tuple[str, Under, os.stat_result]] = []
    for found in walk(top):
        where, info = found.where, found.info
        if found.link is not None:
            target = link_target_inside(found)
            try:
                if target is None:
                    raise Refused(0, "it points outside")
                where = Under(top.anchor, f"{top.rel}/{target}" if top.rel else target)
                fd = open_file(where)
            except OSError:
                log.warning("not uploading symlink %s: it points outside %s, to a directory or through "
                            "another link", found.where.path, top.path)
                continue
            try:
                info = os.fstat(fd)
            finally:
                os.close(fd)
        elif not stat.S_ISREG(info.st_mode):
            continue
        files.append((prefix + found.name, where, info))
    return files


def upload_files(client: S3Client, bucket: str, files: Sequence[tuple[str, Path | Under]], workers: int = 8,
                 started: float | None = None) -> TransferStats:
    """Upload each (key, file) to ``bucket`` with ``workers`` threads. A file that turned into a link
    (or vanished) since it was listed is skipped with a warning: links are never followed."""
    started = time.monotonic() if started is None else started
    # memory: about (workers + files) parts at most, while one big file still uses every worker
    parts_in_flight = max(1, workers // max(1, len(files)))

    def put(item: tuple[str, Path | Under]) -> int:
        obj_key, file = item
        where = file if isinstance(file, Under) else Under.own(Path(file))
        try:
            fd = open_file(where)
        except (Refused, FileNotFoundError) as exc:
            log.warning("not uploading %s to s3://%s/%s: %s", where.path, bucket, obj_key, exc)
            return 0
        except OSError as exc:
            raise StagingError(f"cannot upload {where.path}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "rb") as data:
                size = os.fstat(data.fileno()).st_size
                client.raw.put_object(bucket, obj_key, data, size, part_size=PART_SIZE,
                                      num_parallel_uploads=parts_in_flight)
            return size
        except (*_NETWORK_ERRORS, ValueError, OSError) as exc:
            raise _failure(client, exc, f"cannot upload {where.path} to s3://{bucket}/{obj_key}",
                           bucket, obj_key) from None

    sizes = _parallel(put, files, workers, "s3-upload")
    return TransferStats(len(files), sum(sizes), time.monotonic() - started)
