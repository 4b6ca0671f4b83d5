"""emulator.infra.staging against a real embedded SeaweedFS: layouts, errors, tarballs, round trips."""

from __future__ import annotations

import io
import os
import shutil
import tarfile
from collections import namedtuple
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from minio.datatypes import Object
from support import S3_ACCESS, S3_SECRET, free_port

from emulator.config import S3Settings
from emulator.infra import staging, uploads
from emulator.infra.staging import (
    StagingError,
    download,
    download_prefix,
    list_objects,
    shard,
)
from emulator.infra.uploads import upload_tarball, upload_tree
from emulator.s3.client import S3Client
from emulator.s3.embedded import EmbeddedS3

ACCESS, SECRET = S3_ACCESS, S3_SECRET


@pytest.fixture(scope="module")
def server(embedded_s3: EmbeddedS3) -> EmbeddedS3:
    return embedded_s3


@pytest.fixture(scope="module")
def client(server: EmbeddedS3) -> S3Client:
    return S3Client(S3Settings(server.endpoint, ACCESS, SECRET), region="eu-west-1")


@pytest.fixture(scope="module")
def boto(server: EmbeddedS3):
    return boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=ACCESS,
                        aws_secret_access_key=SECRET, config=Config(s3={"addressing_style": "path"}))


@pytest.fixture
def bucket(boto, request: pytest.FixtureRequest) -> str:
    name = "st-" + "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:50].strip("-")
    boto.create_bucket(Bucket=name)
    return name


def put(boto, bucket: str, objects: dict[str, bytes]) -> None:
    for key, body in objects.items():
        boto.put_object(Bucket=bucket, Key=key, Body=body)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_s3_prefix_download_keeps_layout(client: S3Client, boto, bucket: str, tmp_path: Path) -> None:
    put(boto, bucket, {"data/train-a.csv": b"a", "data/train/x.csv": b"x", "data/train/sub/y.csv": b"y" * 3000,
                       "data/train/": b"", "data/other.csv": b"no", "élan/ü.csv": b"u"})
    objects = list_objects(client, "S3Prefix", f"s3://{bucket}/data/train")
    assert [(o.key, o.relative_path, o.size) for o in objects] == [
        ("data/train-a.csv", "train-a.csv", 1), ("data/train/sub/y.csv", "sub/y.csv", 3000),
        ("data/train/x.csv", "x.csv", 1)]
    stats = download(client, objects, tmp_path / "train")
    assert (stats.objects, stats.bytes) == (3, 3002)
    assert tree(tmp_path / "train") == {"train-a.csv": b"a", "sub/y.csv": b"y" * 3000, "x.csv": b"x"}

    download(client, list_objects(client, "S3Prefix", f"s3://{bucket}/data/"), tmp_path / "all")
    assert sorted(tree(tmp_path / "all")) == ["other.csv", "train-a.csv", "train/sub/y.csv", "train/x.csv"]
    download(client, list_objects(client, "S3Prefix", f"s3://{bucket}/élan/ü.csv"), tmp_path / "one")
    assert tree(tmp_path / "one") == {"ü.csv": b"u"}


def test_manifest_file(client: S3Client, boto, bucket: str, tmp_path: Path) -> None:
    put(boto, bucket, {"pool/a/1.csv": b"1", "pool/b/2.csv": b"22", "pool/c/3.csv": b"333",
                       "manifests/m.json": f'[{{"prefix": "s3://{bucket}/pool"}}, "b/2.csv", "a/1.csv"]'.encode(),
                       "manifests/missing.json": f'[{{"prefix": "s3://{bucket}/pool/"}}, "gone.csv"]'.encode()})
    objects = list_objects(client, "ManifestFile", f"s3://{bucket}/manifests/m.json")
    assert [(o.key, o.relative_path, o.size) for o in objects] == [("pool/a/1.csv", "a/1.csv", 1),
                                                                    ("pool/b/2.csv", "b/2.csv", 2)]
    download(client, objects, tmp_path / "ch")
    assert tree(tmp_path / "ch") == {"a/1.csv": b"1", "b/2.csv": b"22"}

    with pytest.raises(StagingError, match=rf"s3://{bucket}/pool/gone\.csv listed in manifest file.*does not exist"):
        list_objects(client, "ManifestFile", f"s3://{bucket}/manifests/missing.json")
    with pytest.raises(StagingError, match=rf'manifest file "s3://{bucket}/manifests/nope.json".*does not exist'):
        list_objects(client, "ManifestFile", f"s3://{bucket}/manifests/nope.json")


def test_listing_errors(client: S3Client, boto, bucket: str) -> None:
    uri = f"s3://{bucket}/nothing/here"
    with pytest.raises(StagingError) as info:
        list_objects(client, "S3Prefix", uri)
    assert str(info.value) == (
        f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that the bucket '
        'exists in the selected region (eu-west-1), that objects exist under that S3 prefix, and that the role '
        f'has "s3:ListBucket" permissions on bucket "{bucket}".')
    with pytest.raises(StagingError, match='S3 bucket "st-no-such-bucket" does not exist'):
        list_objects(client, "S3Prefix", "s3://st-no-such-bucket/data/")
    with pytest.raises(StagingError, match="'AugmentedManifestFile' is not supported by smlocal"):
        list_objects(client, "AugmentedManifestFile", f"s3://{bucket}/m")
    put(boto, bucket, {"evil.manifest": f'[{{"prefix": "s3://{bucket}/"}}, "a/../../escape.txt"]'.encode()})
    with pytest.raises(StagingError, match=r"cannot place entry 1 .*escape\.txt.* on disk.*'\.\.' segment"):
        list_objects(client, "ManifestFile", f"s3://{bucket}/evil.manifest")


def test_hostile_keys_in_a_listing_are_refused(client: S3Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # AWS accepts any key; SeaweedFS refuses ".." in keys, so the listing is faked here
    fake = [Object("b", "evil/../../escape.txt", size=1), Object("b", "evil/ok", size=1)]
    monkeypatch.setattr(client.raw, "list_objects", lambda *a, **k: iter(fake))
    with pytest.raises(StagingError, match=r"cannot place s3://b/evil/\.\./\.\./escape\.txt on disk.*'\.\.'"):
        list_objects(client, "S3Prefix", "s3://b/evil/")


def test_sharded_download_over_two_hosts(client: S3Client, boto, bucket: str, tmp_path: Path) -> None:
    put(boto, bucket, {f"shards/part-{i:02d}.csv": str(i).encode() for i in range(7)})
    objects = list_objects(client, "S3Prefix", f"s3://{bucket}/shards/")
    got = []
    for host in range(2):
        download(client, shard(objects, host, 2, "ShardedByS3Key"), tmp_path / f"algo-{host + 1}")
        got.append(sorted(tree(tmp_path / f"algo-{host + 1}")))
    assert got == [[f"part-{i:02d}.csv" for i in (0, 2, 4, 6)], [f"part-{i:02d}.csv" for i in (1, 3, 5)]]


def test_disk_space_is_checked_first(client: S3Client, boto, bucket: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    put(boto, bucket, {"big/blob": os.urandom(3_000_000)})
    objects = list_objects(client, "S3Prefix", f"s3://{bucket}/big/")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(staging.shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 5_000_000, 5_000_000))
    with pytest.raises(StagingError) as info:
        download(client, objects, tmp_path / "train", label="channel 'train'")
    assert str(info.value) == "not enough disk space for channel 'train': need 19.8 MB, 5.0 MB free"
    assert list((tmp_path / "train").iterdir()) == []


def test_progress_reports_totals(client: S3Client, boto, bucket: str, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    put(boto, bucket, {f"p/{i:03d}": os.urandom(200_000) for i in range(30)})
    objects = list_objects(client, "S3Prefix", f"s3://{bucket}/p/")
    monkeypatch.setattr(staging, "PROGRESS_INTERVAL", 0.01)
    calls: list[tuple[int, int, int, int]] = []
    stats = download(client, objects, tmp_path / "p", progress=lambda *a: calls.append(a), workers=2)
    assert calls[-1] == (30, 30, 6_000_000, 6_000_000)
    assert all(c[1] == 30 and c[3] == 6_000_000 for c in calls)
    assert [c[2] for c in calls] == sorted(c[2] for c in calls)
    assert len(calls) <= stats.seconds / 0.01 + 2


def test_vanished_object_is_named(client: S3Client, boto, bucket: str, tmp_path: Path) -> None:
    put(boto, bucket, {"v/keep.csv": b"k", "v/gone.csv": b"g"})
    objects = list_objects(client, "S3Prefix", f"s3://{bucket}/v/")
    boto.delete_object(Bucket=bucket, Key="v/gone.csv")
    with pytest.raises(StagingError, match=rf"cannot download s3://{bucket}/v/gone\.csv: .*does not exist"):
        download(client, objects, tmp_path / "v")
    assert not list((tmp_path / "v").glob(".smlocal-*"))


def test_unreachable_endpoint_is_named(tmp_path: Path) -> None:
    port = free_port()
    dead = S3Client(S3Settings(f"http://127.0.0.1:{port}", ACCESS, SECRET))
    with pytest.raises(StagingError, match=rf"cannot reach S3 at http://127\.0\.0\.1:{port} \(connection refused\)"):
        list_objects(dead, "S3Prefix", "s3://some-bucket/x")


def test_access_denied_is_named(server: EmbeddedS3, bucket: str, tmp_path: Path) -> None:
    wrong = S3Client(S3Settings(server.endpoint, ACCESS, "not-the-secret"))
    with pytest.raises(StagingError, match=rf'cannot list S3 URL "s3://{bucket}/x": access denied by S3 at '
                                           rf"{server.endpoint} \((AccessDenied|SignatureDoesNotMatch)"):
        list_objects(wrong, "S3Prefix", f"s3://{bucket}/x")


def read_tarball(boto, bucket: str, key: str) -> dict[str, tuple[str, bytes | str]]:
    body = boto.get_object(Bucket=bucket, Key=key)["Body"].read()
    members = {}
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        for m in tar.getmembers():
            kind = "dir" if m.isdir() else "link" if m.issym() else "file"
            members[m.name] = (kind, m.linkname if m.issym() else tar.extractfile(m).read() if m.isfile() else b"")
    return members


def test_upload_tarball_merges_sources_later_wins(client: S3Client, boto, bucket: str, tmp_path: Path) -> None:
    first, second = tmp_path / "algo-1", tmp_path / "algo-2"
    for folder in (first / "dir", first / "kind", second / "dir"):
        folder.mkdir(parents=True)
    (first / "only-1.txt").write_bytes(b"one")
    (first / "shared.txt").write_bytes(b"from-1")
    (first / "dir" / "x").write_bytes(b"x1")
    (first / "kind" / "inner").write_bytes(b"dropped: algo-2 has a file named kind")
    (second / "shared.txt").write_bytes(b"from-2")
    (second / "dir" / "y").write_bytes(b"y2")
    (second / "kind").write_bytes(b"file now")
    (second / "alias").symlink_to("shared.txt")
    (second / "escape").symlink_to("/etc/passwd")
    (second / "sneaky").symlink_to("../algo-1/only-1.txt")
    big = os.urandom(20 * 1024 * 1024)                      # more than one multipart part
    (second / "weights.bin").write_bytes(big)
    stats = upload_tarball(client, [first, second], f"s3://{bucket}/job/output/model.tar.gz")
    assert stats.objects == 1 and stats.bytes > len(big)
    assert read_tarball(boto, bucket, "job/output/model.tar.gz") == {
        "alias": ("link", "shared.txt"), "dir": ("dir", b""), "dir/x": ("file", b"x1"), "dir/y": ("file", b"y2"),
        "kind": ("file", b"file now"), "only-1.txt": ("file", b"one"), "shared.txt": ("file", b"from-2"),
        "weights.bin": ("file", big)}


def test_upload_tarball_of_nothing_is_a_valid_empty_archive(client: S3Client, boto, bucket: str,
                                                            tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    upload_tarball(client, [tmp_path / "empty", tmp_path / "missing"], f"s3://{bucket}/model.tar.gz")
    assert read_tarball(boto, bucket, "model.tar.gz") == {}


def test_failed_packing_uploads_nothing(client: S3Client, boto, bucket: str, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(members, out) -> None:
        out.write(os.urandom(40 * 1024 * 1024))             # multipart upload under way
        raise StagingError("cannot pack /opt/ml/model/w: Permission denied")

    monkeypatch.setattr(uploads, "_write_tarball", broken)
    with pytest.raises(StagingError, match="cannot pack /opt/ml/model/w: Permission denied"):
        upload_tarball(client, [tmp_path], f"s3://{bucket}/model.tar.gz")
    with pytest.raises(ClientError):
        boto.head_object(Bucket=bucket, Key="model.tar.gz")


def test_upload_tree_and_download_prefix_round_trip(client: S3Client, boto, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "checkpoints"
    files = {"epoch-1.pt": os.urandom(1000), "deep/er/state.json": b"{}", "deep/er/empty": b"",
             "big.bin": os.urandom(17 * 1024 * 1024), "名前.txt": "ü".encode()}
    for name, body in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(body)
    (src / "latest").symlink_to("epoch-1.pt")
    (src / "outside").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_bytes(b"do not upload")
    (src / "loop").symlink_to(".")
    put(boto, bucket, {"ckpt-other/not-mine": b"sibling prefix"})

    stats = upload_tree(client, src, f"s3://{bucket}/ckpt")
    assert (stats.objects, stats.bytes) == (6, sum(map(len, files.values())) + 1000)
    keys = sorted(o["Key"] for o in boto.list_objects_v2(Bucket=bucket, Prefix="ckpt/")["Contents"])
    assert keys == sorted(f"ckpt/{name}" for name in [*files, "latest"])

    back = download_prefix(client, f"s3://{bucket}/ckpt", tmp_path / "restored")
    assert back.objects == 6
    assert tree(tmp_path / "restored") == {**files, "latest": files["epoch-1.pt"]}

    empty = download_prefix(client, f"s3://{bucket}/no-checkpoints-yet/", tmp_path / "fresh")
    assert (empty.objects, empty.bytes) == (0, 0) and (tmp_path / "fresh").is_dir()
    shutil.rmtree(tmp_path / "restored")


def test_large_objects_are_fetched_as_parallel_ranges(client: S3Client, boto, bucket: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "RANGED_FROM", 1024 * 1024)
    monkeypatch.setattr(staging, "RANGE_SIZE", 256 * 1024)
    big, odd, small = os.urandom(3 * 1024 * 1024 + 17), os.urandom(1024 * 1024), b"s" * 10
    put(boto, bucket, {"in/big.bin": big, "in/odd.bin": odd, "in/small.txt": small})
    objects = list_objects(client, "S3Prefix", f"s3://{bucket}/in/")
    stats = download(client, objects, tmp_path / "in", workers=4)
    assert (stats.objects, stats.bytes) == (3, len(big) + len(odd) + len(small))
    assert tree(tmp_path / "in") == {"big.bin": big, "odd.bin": odd, "small.txt": small}


def test_a_failed_range_leaves_no_partial_file(client: S3Client, boto, bucket: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(staging, "RANGED_FROM", 1024 * 1024)
    monkeypatch.setattr(staging, "RANGE_SIZE", 256 * 1024)
    put(boto, bucket, {"in/big.bin": os.urandom(2 * 1024 * 1024)})
    objects = list_objects(client, "S3Prefix", f"s3://{bucket}/in/")
    boto.delete_object(Bucket=bucket, Key="in/big.bin")      # listed, then gone: every range fails
    with pytest.raises(StagingError, match="big.bin"):
        download(client, objects, tmp_path / "in", workers=4)
    assert list((tmp_path / "in").iterdir()) == []
