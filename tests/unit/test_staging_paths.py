"""Pure rules of emulator.infra.staging: where S3 keys land, hostile paths, sharding, manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator.infra import staging
from emulator.infra.staging import (
    S3Object,
    StagingError,
    check_relative_path,
    human_size,
    local_path,
    parse_manifest,
    relative_path_for,
    shard,
)


@pytest.mark.parametrize(("prefix", "key", "expected"), [
    ("data/train", "data/train-a.csv", "train-a.csv"),          # string prefix, not a directory
    ("data/train", "data/train/x.csv", "x.csv"),                # a directory, without its slash
    ("data/train", "data/train/sub/x.csv", "sub/x.csv"),
    ("data/", "data/x/y.csv", "x/y.csv"),                        # nested dirs kept
    ("data/", "data/a.csv", "a.csv"),
    ("data/a.csv", "data/a.csv", "a.csv"),                       # prefix equal to a full key
    ("data", "data/a.csv", "a.csv"),                             # a top-level directory
    ("data", "data-2/b", "data-2/b"),
    ("", "top/level.bin", "top/level.bin"),                      # whole bucket
    ("a/b/c/", "a/b/c/d/e/f.txt", "d/e/f.txt"),
    ("données/", "données/été/ñ-日本.csv", "été/ñ-日本.csv"),    # unicode
    ("x/", "x/with space/and+plus.csv", "with space/and+plus.csv"),
])
def test_relative_path_for(prefix: str, key: str, expected: str) -> None:
    assert relative_path_for(prefix, key) == expected
    assert check_relative_path(expected, "k") == expected


@pytest.mark.parametrize("relative", [
    "../etc/passwd", "a/../../b", "a/..", "..", "/etc/passwd", "/", "a\x00b", "", ".", "./", "a/./..",
])
def test_hostile_relative_paths_are_refused(relative: str, tmp_path: Path) -> None:
    with pytest.raises(StagingError, match="cannot place s3://b/k on disk"):
        check_relative_path(relative, "s3://b/k")
    with pytest.raises(StagingError):
        local_path(tmp_path, relative, "s3://b/k")


def test_relative_paths_are_normalised(tmp_path: Path) -> None:
    assert check_relative_path("a//b", "k") == "a/b"
    assert check_relative_path("./a/./b", "k") == "a/b"
    assert local_path(tmp_path, "x/y.csv") == tmp_path.resolve() / "x" / "y.csv"


def test_symlinked_directory_escaping_dest_is_refused(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    dest.mkdir()
    outside.mkdir()
    (dest / "link").symlink_to(outside)
    with pytest.raises(StagingError, match="resolves outside"):
        local_path(dest, "link/file.csv", "s3://b/link/file.csv")


def objects(n: int) -> list[S3Object]:
    return [S3Object("b", f"k/{i:04d}", i, f"{i:04d}") for i in range(n)]


@pytest.mark.parametrize(("count", "hosts"), [(0, 1), (1, 3), (10, 1), (10, 3), (7, 7), (100, 4), (5, 8)])
def test_sharding_covers_every_object_exactly_once(count: int, hosts: int) -> None:
    items = objects(count)
    shards = [shard(reversed(items), i, hosts, "ShardedByS3Key") for i in range(hosts)]
    keys = [o.key for part in shards for o in part]
    assert sorted(keys) == [o.key for o in items] and len(keys) == len(set(keys))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    for i, part in enumerate(shards):                            # deterministic round-robin by key
        assert part == items[i::hosts]
        assert part == shard(items[::-1], i, hosts, "ShardedByS3Key")


def test_fully_replicated_gives_everything_sorted() -> None:
    items = objects(5)
    for i in range(3):
        assert shard(items[::-1], i, 3, "FullyReplicated") == items


def test_shard_rejects_bad_arguments() -> None:
    with pytest.raises(StagingError, match="S3DataDistributionType 'Random' is not supported"):
        shard(objects(2), 0, 1, "Random")
    with pytest.raises(ValueError):
        shard(objects(2), 2, 2, "FullyReplicated")


def manifest(*entries: object, prefix: object = "s3://bkt/some/prefix/") -> bytes:
    return json.dumps([{"prefix": prefix}, *entries]).encode()


def test_manifest_valid() -> None:
    got = parse_manifest(manifest("b/two.csv", "a/one.csv", "a/one.csv", "ü.txt"), "s3://m/manifest")
    assert got == [("bkt", "some/prefix/a/one.csv", "a/one.csv"),
                   ("bkt", "some/prefix/b/two.csv", "b/two.csv"),
                   ("bkt", "some/prefix/ü.txt", "ü.txt")]


def test_manifest_prefix_without_trailing_slash_and_bucket_root() -> None:
    assert parse_manifest(manifest("x.csv", prefix="s3://bkt/dir"), "s3://m/x") == [("bkt", "dir/x.csv", "x.csv")]
    assert parse_manifest(manifest("x.csv", prefix="s3://bkt"), "s3://m/x") == [("bkt", "x.csv", "x.csv")]
    assert parse_manifest(manifest(prefix="s3://bkt/p/"), "s3://m/x") == []


@pytest.mark.parametrize(("data", "message"), [
    (b"{not json", "is not valid JSON"),
    (b"\xff\xfe\x00garbage", "is not valid JSON"),
    (b"{}", "must be a JSON array starting with"),
    (b"[]", "must be a JSON array starting with"),
    (b'["a.csv"]', "must be a JSON array starting with"),
    (b'[{"prefix": 3}]', "must be a JSON array starting with"),
    (manifest("ok", 7), "entry 2 is int, not a string key"),
    (manifest(prefix="http://bkt/p/"), "is not an S3 URI"),
    (manifest("../../escape"), "contains a '..' segment"),
    (manifest("/abs/key"), "is absolute"),
    (manifest("nul\x00key"), "contains a NUL character"),
])
def test_manifest_garbage(data: bytes, message: str) -> None:
    with pytest.raises(StagingError, match=message) as info:
        parse_manifest(data, "s3://m/bad.manifest")
    assert "s3://m/bad.manifest" in str(info.value)


def test_manifest_too_big_or_too_many_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    huge = b"[" + b" " * staging.MAX_MANIFEST_BYTES + b"]"
    with pytest.raises(StagingError, match=r'manifest file "s3://m/big" is larger than the 67\.1 MB'):
        parse_manifest(huge, "s3://m/big")
    monkeypatch.setattr(staging, "MAX_MANIFEST_ENTRIES", 3)
    with pytest.raises(StagingError, match="lists 4 objects; smlocal accepts at most 3"):
        parse_manifest(manifest("a", "b", "c", "d"), "s3://m/many")
    assert len(parse_manifest(manifest("a", "b", "c"), "s3://m/ok")) == 3


def test_human_size() -> None:
    assert human_size(0) == "0 B"
    assert human_size(999) == "999 B"
    assert human_size(12_345_678) == "12.3 MB"
    assert human_size(45.6e9) == "45.6 GB"
    assert human_size(3e15) == "3000.0 TB"
