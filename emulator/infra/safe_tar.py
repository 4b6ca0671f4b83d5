"""Extract an untrusted tarball without letting it write, link or point outside its destination.

Every member is checked here, independently of ``tarfile``'s extraction filters (which some
Python patch releases let a chain of long symlinks bypass: CVE-2025-4517 and its family):

* names: a leading ``/`` is dropped (as GNU tar and the ``data`` filter do); ``..`` components,
  NUL bytes and over-long names are refused;
* every directory on a member's way is opened one component at a time with ``O_NOFOLLOW``, from a
  descriptor of the destination, so no member is ever written through a symbolic link, whether the
  archive created it earlier or it was already in the destination;
* symbolic links: absolute targets are refused; relative ones are resolved component by component
  in the destination's tree (following the links found there, ``..`` popping a real directory), never
  with ``realpath`` of a half-built tree, and must stay inside; all of them are checked once more
  when the archive ends, because a later member can change what an earlier link reaches;
* hard links must name a regular file this archive extracted before;
* devices, FIFOs and unknown member types are refused;
* the member count, each member's size and the total size are capped (``Limits``);
* modes are sanitized: no setuid, setgid or sticky bits, no group or other write, owner read and
  write always; ownership is never restored.

Standard library only: a byte-identical copy is the serving and training toolkit's
``smlocal_toolkit/safe_tar.py`` (tests/unit/test_safe_tar.py checks they are the same file).
"""

from __future__ import annotations

import errno
import os
import stat
import tarfile
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

CHUNK = 1024 * 1024
MAX_LINK_HOPS = 40                 # as Linux's ELOOP limit
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class ArchiveError(Exception):
    """The archive was refused or could not be read; the message says which member and why."""


class UnsafeMember(ArchiveError):
    """A member would write, link or point outside the destination, or is of a refused type."""


class ArchiveTooLarge(ArchiveError):
    """The archive has more members, or more bytes once extracted, than the limits allow."""


class BadArchive(ArchiveError):
    """Not a tar archive (optionally gzip, bzip2 or xz compressed), or a truncated one."""


class LimitsLike(Protocol):
    @property
    def max_members(self) -> int: ...

    @property
    def max_total_bytes(self) -> int: ...

    @property
    def max_member_bytes(self) -> int: ...


@dataclass(frozen=True)
class Limits:
    max_members: int = 1_000_000
    max_total_bytes: int = 64 * 1024 ** 3
    max_member_bytes: int = 64 * 1024 ** 3


MAX_NAME_BYTES = 4096


@dataclass
class Extracted:
    members: int = 0
    bytes: int = 0


def extract(archive: str | os.PathLike[str], dest: str | os.PathLike[str],
            limits: LimitsLike = Limits()) -> Extracted:
    """Extract ``archive`` into ``dest`` (created). Raises an ``ArchiveError`` at the first refused
    member; what was extracted before it stays (callers discard ``dest``)."""
    target = Path(dest)
    target.mkdir(parents=True, exist_ok=True)
    root = os.open(target, _DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        extractor = _Extractor(root, limits)
        try:
            with tarfile.open(os.fspath(archive), mode="r:*") as tar:
                for member in tar:          # headers are read lazily: the count is capped early
                    extractor.add(tar, member)
        except (tarfile.TarError, EOFError, zlib.error) as exc:
            raise BadArchive(f"not a valid tar archive ({type(exc).__name__}: {exc})") from None
        except _ReadError as exc:
            raise BadArchive(f"not a valid tar archive ({exc})") from None
        except OSError as exc:
            raise ArchiveError(f"cannot extract: {exc.strerror or exc}") from None
        extractor.recheck_links()
        return extractor.done
    finally:
        os.close(root)


class _ReadError(Exception):
    pass


class _Extractor:
    def __init__(self, root: int, limits: LimitsLike) -> None:
        self.root = root
        self.limits = limits
        self.done = Extracted()
        self.files: set[tuple[str, ...]] = set()
        self.links: dict[tuple[str, ...], str] = {}

    # --- members -------------------------------------------------------------------------------
    def add(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.done.members += 1
        if self.done.members > self.limits.max_members:
            raise ArchiveTooLarge(f"more than {self.limits.max_members} members")
        parts = _parts(member.name, "member")
        if member.isdir():
            if parts:
                fd = self._walk(parts, create=True)
                try:
                    os.fchmod(fd, _dir_mode(member.mode))
                finally:
                    os.close(fd)
            return
        if not parts:
            raise UnsafeMember(f"member {member.name!r} has no name")
        if member.isreg():
            self._file(tar, member, parts)
        elif member.issym():
            self._symlink(member, parts)
        elif member.islnk():
            self._hardlink(member, parts)
        else:
            raise UnsafeMember(f"member {member.name!r} is a {_kind(member)}, not a file, directory or link")

    def _file(self, tar: tarfile.TarFile, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        if member.size > self.limits.max_member_bytes:
            raise ArchiveTooLarge(f"member {member.name!r} is larger than {self.limits.max_member_bytes} bytes")
        if self.done.bytes + member.size > self.limits.max_total_bytes:
            raise ArchiveTooLarge(f"more than {self.limits.max_total_bytes} bytes once extracted")
        parent = self._walk(parts[:-1], create=True)
        try:
            self._clear(parent, parts)
            try:
                fd = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                             | getattr(os, "O_CLOEXEC", 0), 0o600, dir_fd=parent)
            except OSError as exc:
                raise ArchiveError(f"cannot write {member.name!r}: {exc.strerror}") from None
            try:
                source = tar.extractfile(member)
                self._copy(source, fd, member)
                os.fchmod(fd, _file_mode(member.mode))
                os.utime(fd, (member.mtime, member.mtime))
            finally:
                os.close(fd)
        finally:
            os.close(parent)
        self.files.add(parts)
        self.links.pop(parts, None)

    def _copy(self, source: IO[bytes] | None, fd: int, member: tarfile.TarInfo) -> None:
        written = 0
        while source is not None:
            try:
                data = source.read(CHUNK)
            except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
                raise _ReadError(f"{type(exc).__name__} reading {member.name!r}: {exc}") from None
            if not data:
                break
            written += len(data)
            self.done.bytes += len(data)
            if written > self.limits.max_member_bytes:
                raise ArchiveTooLarge(f"member {member.name!r} is larger than {self.limits.max_member_bytes} bytes")
            if self.done.bytes > self.limits.max_total_bytes:
                raise ArchiveTooLarge(f"more than {self.limits.max_total_bytes} bytes once extracted")
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            except OSError as exc:
                raise ArchiveError(f"cannot write {member.name!r}: {exc.strerror}") from None

    def _symlink(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        target = member.linkname
        if not target or "\x00" in target or len(target.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise UnsafeMember(f"symbolic link {member.name!r} has an invalid target")
        if target.startswith("/"):
            raise UnsafeMember(f"symbolic link {member.name!r} points to the absolute path {target!r}")
        if not self._resolves_inside(parts[:-1], target):
            raise UnsafeMember(f"symbolic link {member.name!r} -> {target!r} points outside the destination")
        parent = self._walk(parts[:-1], create=True)
        try:
            self._clear(parent, parts)
            os.symlink(target, parts[-1], dir_fd=parent)
        except OSError as exc:
            raise ArchiveError(f"cannot create {member.name!r}: {exc.strerror}") from None
        finally:
            os.close(parent)
        self.links[parts] = target
        self.files.discard(parts)

    def _hardlink(self, member: tarfile.TarInfo, parts: tuple[str, ...]) -> None:
        source = _parts(member.linkname, "hard link target")
        if source not in self.files:
            raise UnsafeMember(f"hard link {member.name!r} -> {member.linkname!r} does not name a regular file "
                               "extracted earlier from this archive")
        source_parent = self._walk(source[:-1], create=False)
        try:
            parent = self._walk(parts[:-1], create=True)
            try:
                self._clear(parent, parts)
                info = os.stat(source[-1], dir_fd=source_parent, follow_symlinks=False)
                if not stat.S_ISREG(info.st_mode):
                    raise UnsafeMember(f"hard link {member.name!r} -> {member.linkname!r}: not a regular file")
                os.link(source[-1], parts[-1], src_dir_fd=source_parent, dst_dir_fd=parent, follow_symlinks=False)
            except OSError as exc:
                raise ArchiveError(f"cannot create {member.name!r}: {exc.strerror}") from None
            finally:
                os.close(parent)
        finally:
            os.close(source_parent)
        self.files.add(parts)
        self.links.pop(parts, None)

    # --- the tree ------------------------------------------------------------------------------
    def _walk(self, parts: tuple[str, ...], create: bool) -> int:
        """A descriptor of the directory ``parts`` under the root, opened without following any link."""
        fd = os.dup(self.root)
        try:
            for index, part in enumerate(parts):
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o755, dir_fd=fd)
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    where = "/".join(parts[:index + 1])
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR) and _is_link(fd, part):
                        raise UnsafeMember(f"{'/'.join(parts)!r} passes through the symbolic link {where!r}") from None
                    if exc.errno == errno.ENOTDIR:
                        raise UnsafeMember(f"{'/'.join(parts)!r} passes through {where!r}, which is not a "
                                           "directory") from None
                    raise ArchiveError(f"cannot open {where!r}: {exc.strerror}") from None
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    @staticmethod
    def _clear(parent: int, parts: tuple[str, ...]) -> None:
        """Make room for a new non-directory member (tar replaces what is there); never a directory."""
        try:
            info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(info.st_mode):
            raise UnsafeMember(f"member {'/'.join(parts)!r} would replace a directory")
        os.unlink(parts[-1], dir_fd=parent)

    def _readlink(self, parts: list[str]) -> str | None:
        """The target of ``parts`` if it is a symbolic link in the tree now, else None (missing too)."""
        try:
            parent = self._walk(tuple(parts[:-1]), create=False)
        except (OSError, ArchiveError):
            return None
        try:
            return os.readlink(parts[-1], dir_fd=parent)
        except OSError:
            return None
        finally:
            os.close(parent)

    def _resolves_inside(self, start: tuple[str, ...], target: str) -> bool:
        """Resolve ``target`` from directory ``start`` as the kernel would, one component at a time."""
        stack = list(start)
        pending = deque(target.split("/"))
        hops = 0
        while pending:
            part = pending.popleft()
            if part in ("", "."):
                continue
            if part == "..":
                if not stack:
                    return False
                stack.pop()
                continue
            link = self._readlink(stack + [part])
            if link is None:
                stack.append(part)
                continue
            hops += 1
            if hops > MAX_LINK_HOPS or link.startswith("/"):
                return False
            pending.extendleft(reversed(link.split("/")))
        return True

    def recheck_links(self) -> None:
        """Every link once more against the final tree; escaping ones are removed, then refused."""
        escaping = [parts for parts, target in self.links.items() if not self._resolves_inside(parts[:-1], target)]
        for parts in escaping:
            try:
                parent = self._walk(parts[:-1], create=False)
            except (OSError, ArchiveError):
                continue
            try:
                os.unlink(parts[-1], dir_fd=parent)
            except OSError:
                pass
            finally:
                os.close(parent)
        if escaping:
            name = "/".join(escaping[0])
            raise UnsafeMember(f"symbolic link {name!r} -> {self.links[escaping[0]]!r} points outside the "
                               "destination once the archive is extracted")


def _parts(name: str, what: str) -> tuple[str, ...]:
    if "\x00" in name or len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise UnsafeMember(f"{what} {name[:200]!r} has an invalid name")
    parts = tuple(p for p in name.lstrip("/").split("/") if p not in ("", "."))
    if ".." in parts:
        raise UnsafeMember(f"{what} {name!r} contains '..'")
    return parts


def _is_link(parent: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _file_mode(mode: int) -> int:
    return (mode & 0o755) | 0o600


def _dir_mode(mode: int) -> int:
    return (mode & 0o755) | 0o700


def _kind(member: tarfile.TarInfo) -> str:
    if member.ischr():
        return "character device"
    if member.isblk():
        return "block device"
    if member.isfifo():
        return "FIFO"
    return f"member of type {member.type!r}"
