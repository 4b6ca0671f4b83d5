"""ProcessingOutputs with ``S3UploadMode: Continuous``: files are uploaded while the job runs.

SageMaker uploads a file when the container closes it. smlocal cannot see closes through a bind
mount, so it polls: a file is uploaded once its size and modification time have not changed for
one polling interval (about a second), and again whenever it changes after that. When the job
ends, every file not yet uploaded in its final state is uploaded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from emulator.infra.container_files import Under
from emulator.infra.staging import _split
from emulator.infra.uploads import abort_stale_uploads, tree_files, upload_files
from emulator.s3.client import S3Client

POLL_SECONDS = 1.0
Signature = tuple[int, int]           # (size, mtime in ns)


@dataclass
class _Watched:
    directories: list[Under]
    bucket: str
    prefix: str
    seen: dict[Path, Signature] = field(default_factory=dict)       # at the previous poll
    uploaded: dict[Path, Signature] = field(default_factory=dict)


class ContinuousUploads:
    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self.watched: list[_Watched] = []
        self.last_poll = 0.0

    @property
    def active(self) -> bool:
        return bool(self.watched)

    def watch(self, directories: list[Under], s3_uri: str) -> None:
        """``directories``: the output's directory on each host, below the host's mount (never followed
        through a link the container made)."""
        bucket, prefix = _split(s3_uri)
        self.watched.append(_Watched(directories, bucket, prefix))

    def upload_settled(self, client: S3Client, final: bool = False) -> int:
        """Upload the files that stopped changing (``final``: every file not uploaded as it is now).
        Returns how many files were uploaded."""
        now = time.monotonic()
        if not final and now - self.last_poll < self.poll_seconds:
            return 0
        self.last_poll = now
        count = 0
        for watched in self.watched:
            due: list[tuple[str, Under]] = []
            signatures: dict[Path, Signature] = {}
            for directory in watched.directories:
                for key, where, info in tree_files(directory, watched.prefix):
                    path = where.path
                    signature = (info.st_size, info.st_mtime_ns)
                    signatures[path] = signature
                    settled = final or watched.seen.get(path) == signature
                    if settled and watched.uploaded.get(path) != signature:
                        due.append((key, where))
            watched.seen = signatures
            if due:
                if final:   # a crash during an earlier upload of these keys left incomplete parts
                    abort_stale_uploads(client, watched.bucket, watched.prefix, {key for key, _ in due})
                upload_files(client, watched.bucket, due)
                for _, where in due:
                    watched.uploaded[where.path] = signatures[where.path]
                count += len(due)
        return count
