"""emulator/infra/safe_tar.py: hostile tarballs never write, link or point outside the destination,
whatever ``tarfile``'s own filters do on this Python (CVE-2025-4517 family included)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest

from emulator.infra import model_data, safe_tar
from emulator.infra.staging import StagingError

ROOT = Path(__file__).resolve().parents[2]


class Maker:
    def __init__(self) -> None:
        self.members: list[tuple[tarfile.TarInfo, bytes]] = []

    def add(self, name: str, kind: bytes = tarfile.REGTYPE, link: str = "", data: bytes = b"",
            mode: int = 0o644) -> Maker:
        member = tarfile.TarInfo(name)
        member.type, member.linkname, member.mode = kind, link, mode
        member.size = len(data) if kind == tarfile.REGTYPE else 0
        self.members.append((member, data))
        return self

    def write(self, path: Path) -> Path:
        with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
            for member, data in self.members:
                tar.addfile(member, io.BytesIO(data) if member.isreg() else None)
        return path


@pytest.fixture
def box(tmp_path):
    """(outer directory, destination inside it, a file outside the destination)."""
    dest = tmp_path / "dest"
    dest.mkdir()
    flag = tmp_path / "flag"
    flag.write_text("original")
    return tmp_path, dest, flag


def outside_untouched(outer: Path, dest: Path, flag: Path) -> None:
    assert flag.read_text() == "original"
    assert sorted(p.name for p in outer.iterdir()) == ["archive.tar.gz", "dest", "flag"]


def cve_2025_4517(dest: Path) -> Maker:
    """CPython's own reproducer for CVE-2025-4517 (test_realpath_limit_attack): nested directories
    and symlinks sized so that the final link's expansion crosses PATH_MAX, which makes
    ``os.path.realpath`` stop resolving and the ``data`` filter accept links that escape."""
    steps = "abcdefghijklmnop"
    max_path = os.pathconf(dest.parent, "PC_PATH_MAX")
    component = "d" * ((max_path - len(str(dest)) - 1) // (len(steps) + 1))
    arc, path = Maker(), ""
    for step in steps:
        arc.add(os.path.join(path, component), tarfile.DIRTYPE, mode=0o777)
        arc.add(os.path.join(path, step), tarfile.SYMTYPE, component)
        path = os.path.join(path, component)
    linkpath = os.path.join(*steps, "l" * 254)
    arc.add(linkpath, tarfile.SYMTYPE, os.path.join(*([".."] * len(steps))))
    arc.add("escape", tarfile.SYMTYPE, os.path.join(linkpath, ".."))
    arc.add("flaglink", tarfile.LNKTYPE, os.path.join("escape", "flag"))
    arc.add("flaglink", data=b"overwrite")
    arc.add("escape/newfile", data=b"new")
    return arc


def test_the_cve_2025_4517_chain_writes_nothing_outside(box):
    outer, dest, flag = box
    archive = cve_2025_4517(dest).write(outer / "archive.tar.gz")
    with pytest.raises(safe_tar.UnsafeMember, match="passes through the symbolic link 'a'"):
        safe_tar.extract(archive, dest)
    outside_untouched(outer, dest, flag)


def test_the_cve_chain_through_model_data_fails_with_a_reason(box):
    outer, dest, flag = box
    archive = cve_2025_4517(dest).write(outer / "archive.tar.gz")
    with pytest.raises(StagingError, match=r"^Model data s3://b/model.tar.gz contains an unsafe member: "):
        model_data.extract(archive, dest, "s3://b/model.tar.gz")
    outside_untouched(outer, dest, flag)


def test_a_link_chain_resolving_outside_is_refused_without_following_the_os(box):
    """A link whose target walks through in-archive links (each one inside) and then climbs out."""
    outer, dest, flag = box
    arc = Maker()
    path = ""
    for step in "abcdefgh":
        arc.add(os.path.join(path, "d" * 200), tarfile.DIRTYPE)
        arc.add(os.path.join(path, step), tarfile.SYMTYPE, "d" * 200)
        path = os.path.join(path, "d" * 200)
    target = "a/" + "/".join(["d" * 200] * 6) + "/h/" + "../" * 9 + "flag"
    arc.add("escape", tarfile.SYMTYPE, target)
    archive = arc.write(outer / "archive.tar.gz")
    with pytest.raises(safe_tar.UnsafeMember, match="'escape' .* points outside the destination"):
        safe_tar.extract(archive, dest)
    assert not (dest / "escape").is_symlink()
    outside_untouched(outer, dest, flag)


@pytest.mark.parametrize("members, message", [
    ([("../flag", tarfile.REGTYPE, "")], "contains '..'"),
    ([("a/../../flag", tarfile.REGTYPE, "")], "contains '..'"),
    ([("link", tarfile.SYMTYPE, "/etc/passwd")], "absolute path '/etc/passwd'"),
    ([("link", tarfile.SYMTYPE, "../flag")], "points outside the destination"),
    ([("sub/link", tarfile.SYMTYPE, "../../flag")], "points outside the destination"),
    ([("hard", tarfile.LNKTYPE, "../flag")], "contains '..'"),
    ([("hard", tarfile.LNKTYPE, "/etc/passwd")], "does not name a regular file extracted earlier"),
    ([("dev", tarfile.CHRTYPE, "")], "character device"),
    ([("blk", tarfile.BLKTYPE, "")], "block device"),
    ([("fifo", tarfile.FIFOTYPE, "")], "FIFO"),
    # a link inside the destination, then a file written through it: refused even so
    ([("up", tarfile.DIRTYPE, ""), ("in", tarfile.SYMTYPE, "up"), ("in/x", tarfile.REGTYPE, "")],
     "passes through the symbolic link 'in'"),
    # a later link makes an earlier (then harmless) link climb out: caught when the archive ends
    ([("c", tarfile.DIRTYPE, ""), ("a", tarfile.SYMTYPE, "b/c/../.."), ("b", tarfile.SYMTYPE, ".")],
     "'a' -> 'b/c/../..' points outside the destination once the archive is extracted"),
    ([("loop", tarfile.SYMTYPE, "loop/x")], "points outside"),
])
def test_classic_hostile_members_are_refused(box, members, message):
    outer, dest, flag = box
    arc = Maker()
    for name, kind, link in members:
        arc.add(name, kind, link, b"pwned" if kind == tarfile.REGTYPE else b"")
    archive = arc.write(outer / "archive.tar.gz")
    with pytest.raises(safe_tar.UnsafeMember, match=message):
        safe_tar.extract(archive, dest)
    outside_untouched(outer, dest, flag)
    assert not (dest / "a").is_symlink()      # the late-escaping link was removed


def test_a_symlink_already_in_the_destination_is_never_followed(box):
    outer, dest, flag = box
    (dest / "code").symlink_to(outer)
    archive = Maker().add("code/flag", data=b"pwned").write(outer / "archive.tar.gz")
    with pytest.raises(safe_tar.UnsafeMember, match="passes through the symbolic link 'code'"):
        safe_tar.extract(archive, dest)
    outside_untouched(outer, dest, flag)


def test_a_member_replacing_an_existing_link_replaces_the_link_not_its_target(box):
    outer, dest, flag = box
    (dest / "model.bin").symlink_to(flag)
    archive = Maker().add("model.bin", data=b"weights").write(outer / "archive.tar.gz")
    safe_tar.extract(archive, dest)
    assert not (dest / "model.bin").is_symlink() and (dest / "model.bin").read_bytes() == b"weights"
    outside_untouched(outer, dest, flag)


def test_ordinary_archives_extract_with_links_and_sanitized_modes(box):
    outer, dest, _ = box
    archive = (Maker()
               .add("code", tarfile.DIRTYPE, mode=0o777)
               .add("code/serve.py", data=b"print()", mode=0o4777)
               .add("/abs/name.txt", data=b"abs")
               .add("./model.bin", data=b"w" * 10)
               .add("latest", tarfile.SYMTYPE, "code/serve.py")
               .add("code/up", tarfile.SYMTYPE, "../model.bin")
               .add("copy.bin", tarfile.LNKTYPE, "model.bin")
               .write(outer / "archive.tar.gz"))
    done = safe_tar.extract(archive, dest)
    assert done.members == 7 and done.bytes == 20
    assert (dest / "latest").read_bytes() == b"print()"
    assert (dest / "code" / "up").read_bytes() == b"w" * 10
    assert (dest / "abs" / "name.txt").read_bytes() == b"abs"      # leading / dropped, as GNU tar does
    assert os.stat(dest / "copy.bin").st_ino == os.stat(dest / "model.bin").st_ino
    assert stat.S_IMODE(os.stat(dest / "code" / "serve.py").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest / "code").st_mode) == 0o755


@pytest.mark.parametrize("limits, message", [
    (safe_tar.Limits(max_members=2), "more than 2 members"),
    (safe_tar.Limits(max_total_bytes=15), "more than 15 bytes once extracted"),
    (safe_tar.Limits(max_member_bytes=9), "'b.bin' is larger than 9 bytes"),
])
def test_limits(box, limits, message):
    outer, dest, _ = box
    archive = (Maker().add("a.bin", data=b"x" * 8).add("b.bin", data=b"y" * 10).add("c", tarfile.DIRTYPE)
               .write(outer / "archive.tar.gz"))
    with pytest.raises(safe_tar.ArchiveTooLarge, match=message):
        safe_tar.extract(archive, dest, limits)
    sizes = [p.stat().st_size for p in dest.iterdir() if p.is_file()]
    assert sum(sizes) <= limits.max_total_bytes and max(sizes) <= limits.max_member_bytes


def test_not_a_tarball(box):
    outer, dest, _ = box
    bad = outer / "archive.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(safe_tar.BadArchive, match="not a valid tar archive"):
        safe_tar.extract(bad, dest)


def test_the_toolkit_carries_the_same_module():
    """Images extract sourcedir.tar.gz with the toolkit's copy; it must be this very file."""
    toolkit = ROOT / "containers/toolkit/src/smlocal_toolkit/safe_tar.py"
    assert toolkit.read_bytes() == (ROOT / "emulator/infra/safe_tar.py").read_bytes()


def test_the_toolkit_refuses_a_hostile_sourcedir(box):
    """sourcedir.tar.gz inside the images goes through the same checks (a ClientError there)."""
    import sys
    sys.path.insert(0, str(ROOT / "containers/toolkit/src"))
    from smlocal_toolkit import code
    from smlocal_toolkit.errors import ClientError

    outer, dest, flag = box
    archive = cve_2025_4517(dest).write(outer / "archive.tar.gz")
    with pytest.raises(ClientError, match="passes through the symbolic link 'a'"):
        code.prepare_code(str(archive), str(dest / "code"))
    outside_untouched(outer, dest, flag)
    good = Maker().add("train.py", data=b"print(1)").write(outer / "good.tar.gz")
    code.prepare_code(str(good), str(outer / "code"))
    assert (outer / "code" / "train.py").read_bytes() == b"print(1)"
