"""Reading back what a container wrote, without ever following its symbolic links.

A container owns everything below its bind mounts: it can turn ``/opt/ml/output/failure``, a
checkpoint, an output file or a whole output directory into a symbolic link to any host path
(``ln -s /home/me/.aws/credentials /opt/ml/output/failure``). smlocal reads those directories on
the host, as the user it runs as (often root), so every read here starts from an *anchor* (the host
side of a bind mount, a directory smlocal created and the container cannot replace) and opens each
component below it with ``O_NOFOLLOW``: a link anywhere on the way, or a file that is not a regular
file (a FIFO would block a read forever), is refused with ``Refused``, never followed.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | _CLOEXEC


class Refused(OSError):
    """A path below the anchor is a symbolic link (or passes through one), or is not a regular file."""


@dataclass(frozen=True)
class Under:
    """``rel`` (POSIX, written by a container) below ``anchor`` (a directory smlocal created)."""

    anchor: Path
    rel: str = ""

    @classmethod
    def own(cls, path: Path) -> Under:
        """A path smlocal itself made (its parent is trusted; the path itself is still not followed)."""
        return cls(path.parent, path.name)

    @property
    def path(self) -> Path:
        """For messages and bookkeeping only: never open this."""
        return self.anchor / self.rel if self.rel else self.anchor

    def child(self, name: str) -> Under:
        return Under(self.anchor, f"{self.rel}/{name}" if self.rel else name)


def parts(rel: str) -> list[str]:
    names = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in names:
        raise Refused(errno.EINVAL, f"{rel!r} contains '..'")
    return names


def open_dir(where: Under) -> int:
    """A descriptor of the directory ``where``; ``Refused`` when a link or a non-directory is on the way,
    ``FileNotFoundError`` when it does not exist."""
    fd = os.open(where.anchor, os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC)
    try:
        for name in parts(where.rel):
            fd = _step(fd, name, where)
        return fd
    except BaseException:
        os.close(fd)
        raise


def _step(fd: int, name: str, where: Under) -> int:
    try:
        child = os.open(name, _DIR, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            kind = "a symbolic link" if _is_link(fd, name) else "not a directory"
            raise Refused(exc.errno, f"{where.path}: {name} is {kind}") from None
        raise
    os.close(fd)
    return child


def open_file(where: Under) -> int:
    """A read-only descriptor of the regular file ``where``; ``Refused`` for a link (the file itself or a
    directory on its way) or anything but a regular file."""
    names = parts(where.rel)
    if not names:
        raise Refused(errno.EISDIR, f"{where.path} is a directory")
    parent = open_dir(Under(where.anchor, "/".join(names[:-1])))
    try:
        try:
            fd = os.open(names[-1], _FILE, dir_fd=parent)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Refused(exc.errno, f"{where.path} is a symbolic link") from None
            raise
    finally:
        os.close(parent)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Refused(errno.EINVAL, f"{where.path} is not a regular file")
    os.set_blocking(fd, True)
    return fd


def read_regular(where: Under, limit: int) -> bytes | None:
    """At most ``limit`` bytes of the regular file ``where``; None when it does not exist. ``Refused``
    when it is a link or not a regular file; other ``OSError``s as they come."""
    try:
        fd = open_file(where)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as file:
        return file.read(limit)


@dataclass(frozen=True)
class Found:
    name: str                 # relative to the walked directory, POSIX
    where: Under
    info: os.stat_result      # lstat
    link: str | None = None   # a symbolic link's target (never followed)


def walk(top: Under) -> Iterator[Found]:
    """Everything below the directory ``top``, parents first, sorted by name; links are reported, never
    followed. Nothing when ``top`` is missing, a link or not a directory."""
    try:
        fd = open_dir(top)
    except OSError:
        return
    stack: list[tuple[int, str, Under]] = [(fd, "", top)]
    try:
        while stack:
            fd, prefix, here = stack.pop()
            try:
                with os.scandir(fd) as listing:
                    entries = sorted(listing, key=lambda e: e.name)
                subdirs = []
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                        link = os.readlink(entry.name, dir_fd=fd) if stat.S_ISLNK(info.st_mode) else None
                    except OSError:
                        continue                                  # removed while scanning
                    yield Found(prefix + entry.name, here.child(entry.name), info, link)
                    if stat.S_ISDIR(info.st_mode):
                        subdirs.append(entry.name)
                for name in reversed(subdirs):
                    try:
                        child = os.open(name, _DIR, dir_fd=fd)
                    except OSError:
                        continue                                  # replaced by a link or removed meanwhile
                    stack.append((child, f"{prefix}{name}/", here.child(name)))
            finally:
                os.close(fd)
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def link_target_inside(found: Found) -> str | None:
    """A relative link's target as a path below the walked directory (lexically: ``..`` may not climb
    out), or None for an absolute or escaping target. Opening the result with ``open_file`` refuses
    any further link on its way, so the file reached is always a real file inside."""
    if found.link is None or found.link.startswith("/"):
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(found.name), found.link))
    if joined == ".." or joined.startswith("../") or joined.startswith("/") or joined == ".":
        return None
    return joined


def _is_link(fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
    except OSError:
        return False
