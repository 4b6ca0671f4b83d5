"""The embedded SeaweedFS S3 server, for real: a weed process per test module, real SDK clients."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from minio import Minio
from support import S3_ACCESS, S3_SECRET, free_port

from emulator.s3.embedded import EmbeddedS3, S3StartError, port_conflict, stop_pid

ACCESS, SECRET = S3_ACCESS, S3_SECRET


def s3_client(endpoint: str, key: str | None = ACCESS, secret: str | None = SECRET, **config):
    extra = {"signature_version": UNSIGNED} if key is None else {}
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key or "unused", aws_secret_access_key=secret or "unused",
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      **extra, **config))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket of ``pid`` in LISTEN state, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            match = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(fd))
        except OSError:
            continue
        if match:
            inodes.add(match.group(1))
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:
                continue
            addr_hex, port_hex = fields[1].split(":")
            raw = bytes.fromhex(addr_hex)
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))   # host-order words
            found.add((socket.inet_ntop(family, raw), int(port_hex, 16)))
    return found


def assert_denied(call, *codes: str) -> None:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403, err
    assert err["Error"]["Code"] in codes, err


@pytest.fixture
def server(embedded_s3: EmbeddedS3) -> EmbeddedS3:
    return embedded_s3


def test_boto3_bucket_object_roundtrip(server: EmbeddedS3) -> None:
    client = s3_client(server.endpoint)
    client.create_bucket(Bucket="it-boto3")
    body = os.urandom(10 * 1024 * 1024)
    client.put_object(Bucket="it-boto3", Key="data/blob.bin", Body=body)
    got = client.get_object(Bucket="it-boto3", Key="data/blob.bin")
    assert got["ContentLength"] == len(body)
    assert got["Body"].read() == body
    listed = client.list_objects_v2(Bucket="it-boto3", Prefix="data/")
    assert [o["Key"] for o in listed["Contents"]] == ["data/blob.bin"]
    assert "it-boto3" in [b["Name"] for b in client.list_buckets()["Buckets"]]


def test_aws_semantics_for_missing_and_non_empty_buckets(server: EmbeddedS3) -> None:
    client = s3_client(server.endpoint)
    with pytest.raises(ClientError) as info:
        client.put_object(Bucket="it-never-created", Key="k", Body=b"x")
    assert info.value.response["Error"]["Code"] == "NoSuchBucket"
    client.create_bucket(Bucket="it-non-empty")
    client.put_object(Bucket="it-non-empty", Key="k", Body=b"x")
    with pytest.raises(ClientError) as info:
        client.delete_bucket(Bucket="it-non-empty")
    assert info.value.response["Error"]["Code"] == "BucketNotEmpty"


def test_wrong_or_missing_credentials_are_refused(server: EmbeddedS3) -> None:
    s3_client(server.endpoint).create_bucket(Bucket="it-private")
    s3_client(server.endpoint).put_object(Bucket="it-private", Key="secret.txt", Body=b"s3cr3t")

    wrong_secret = s3_client(server.endpoint, secret="not-the-secret")
    assert_denied(wrong_secret.list_buckets, "SignatureDoesNotMatch", "AccessDenied")
    assert_denied(lambda: wrong_secret.get_object(Bucket="it-private", Key="secret.txt"),
                  "SignatureDoesNotMatch", "AccessDenied")
    unknown_key = s3_client(server.endpoint, key="AKIAUNKNOWN000000000", secret=SECRET)
    assert_denied(unknown_key.list_buckets, "InvalidAccessKeyId", "AccessDenied")
    assert_denied(lambda: unknown_key.put_object(Bucket="it-private", Key="x", Body=b"x"),
                  "InvalidAccessKeyId", "AccessDenied")

    anonymous = s3_client(server.endpoint, key=None)
    assert_denied(anonymous.list_buckets, "AccessDenied")
    assert_denied(lambda: anonymous.get_object(Bucket="it-private", Key="secret.txt"), "AccessDenied")
    assert_denied(lambda: anonymous.put_object(Bucket="it-private", Key="x", Body=b"x"), "AccessDenied")
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(f"{server.endpoint}/it-private/secret.txt", timeout=10)
    assert raw.value.code == 403
    assert b"AccessDenied" in raw.value.read()


def test_minio_sdk_works(server: EmbeddedS3) -> None:
    client = Minio(server.endpoint.removeprefix("http://"), access_key=ACCESS, secret_key=SECRET,
                   secure=False, region="us-east-1")
    assert not client.bucket_exists("it-minio")
    client.make_bucket("it-minio")
    assert client.bucket_exists("it-minio")
    data = os.urandom(3 * 1024 * 1024 + 17)
    client.put_object("it-minio", "nested/obj.bin", io.BytesIO(data), len(data))
    response = client.get_object("it-minio", "nested/obj.bin")
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()
    assert [o.object_name for o in client.list_objects("it-minio", recursive=True)] == ["nested/obj.bin"]


def test_every_listener_is_on_loopback(server: EmbeddedS3) -> None:
    assert server.pid is not None and server.internal_ports is not None
    sockets = listening(server.pid)
    assert {addr for addr, _ in sockets} == {"127.0.0.1"}, sockets
    ports = {port for _, port in sockets}
    assert server.port in ports
    assert ports <= {server.port, *server.internal_ports.all()}, ports
    assert server.internal_ports.master in ports and server.internal_ports.filer in ports


def test_taken_port_is_named(server: EmbeddedS3, tmp_path: Path) -> None:
    clash = EmbeddedS3(tmp_path / "data", server.port, ACCESS, SECRET, log_file=tmp_path / "weed.log")
    with pytest.raises(S3StartError, match=rf"\b{server.port}\b.*in use"):
        clash.start()
    assert clash.pid is None
    assert not (tmp_path / "weed.log").exists()          # refused before launching anything

    same_dir = EmbeddedS3(server.data_dir, free_port(), ACCESS, SECRET, log_file=tmp_path / "weed3.log")
    with pytest.raises(S3StartError, match=rf"another weed \(pid {server.pid}\) already serves"):
        same_dir.start()                                   # two weeds on one data dir would corrupt it

    with socket.socket() as squatter:                      # any program, not only another weed
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        other = EmbeddedS3(tmp_path / "data2", port, ACCESS, SECRET, log_file=tmp_path / "weed2.log")
        with pytest.raises(S3StartError, match=rf"S3 port {port} is already in use on 127\.0\.0\.1"):
            other.start()


def test_restart_on_same_dir_keeps_buckets_and_objects(tmp_path: Path) -> None:
    port = free_port()
    first = EmbeddedS3(tmp_path / "data", port, ACCESS, SECRET, log_file=tmp_path / "weed.log")
    first.start()
    body = os.urandom(5 * 1024 * 1024)
    try:
        client = s3_client(first.endpoint)
        client.create_bucket(Bucket="it-durable")
        client.put_object(Bucket="it-durable", Key="a/model.tar.gz", Body=body)
        client.put_object(Bucket="it-durable", Key="b/small.txt", Body=b"small")
        ports_before = first.internal_ports
    finally:
        first.stop()

    second = EmbeddedS3(tmp_path / "data", port, ACCESS, SECRET, log_file=tmp_path / "weed.log")
    second.start()
    try:
        assert second.internal_ports != ports_before                 # new internal ports
        client = s3_client(second.endpoint)
        assert "it-durable" in [b["Name"] for b in client.list_buckets()["Buckets"]]
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="it-durable")["Contents"]]
        assert keys == ["a/model.tar.gz", "b/small.txt"]
        assert client.get_object(Bucket="it-durable", Key="a/model.tar.gz")["Body"].read() == body
        client.put_object(Bucket="it-durable", Key="c/after-restart", Body=b"new")
        assert client.get_object(Bucket="it-durable", Key="c/after-restart")["Body"].read() == b"new"
    finally:
        second.stop()
    masters = [p.name for p in (tmp_path / "data" / "weed").glob("m[0-9]*")]
    assert masters == [f"m{second.internal_ports.master}"]          # old master dirs are dropped


def test_restart_with_new_keys_drops_the_old_ones(tmp_path: Path) -> None:
    port = free_port()
    with EmbeddedS3(tmp_path / "data", port, ACCESS, SECRET, log_file=tmp_path / "weed.log") as s3:
        s3_client(s3.endpoint).create_bucket(Bucket="it-rekey")
    with EmbeddedS3(tmp_path / "data", port, "AKIANEWKEY0000000000", "new-secret",
                    log_file=tmp_path / "weed.log") as s3:
        assert_denied(s3_client(s3.endpoint).list_buckets, "InvalidAccessKeyId", "AccessDenied")
        fresh = s3_client(s3.endpoint, key="AKIANEWKEY0000000000", secret="new-secret")
        assert "it-rekey" in [b["Name"] for b in fresh.list_buckets()["Buckets"]]


def test_stop_is_idempotent_and_leaves_nothing_behind(tmp_path: Path) -> None:
    s3 = EmbeddedS3(tmp_path / "data", free_port(), ACCESS, SECRET, log_file=tmp_path / "weed.log")
    s3.stop()                                                        # never started: no-op
    s3.start()
    pid, ports = s3.pid, s3.internal_ports
    assert pid is not None and ports is not None
    assert os.getpgid(pid) == pid != os.getpgid(0)                  # its own session / group
    s3.stop()
    s3.stop()
    assert s3.pid is None and not alive(pid)
    assert port_conflict(s3.port) is None
    for port in [s3.port, *ports.all()]:
        assert not list(Path("/tmp").glob(f"seaweedfs-*-{port}.sock")), port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", s3.port), timeout=2).close()


def test_stop_pid_from_another_process(tmp_path: Path) -> None:
    s3 = EmbeddedS3(tmp_path / "data", free_port(), ACCESS, SECRET, log_file=tmp_path / "weed.log")
    s3.start()
    pid = s3.pid
    assert pid is not None
    try:
        # a large GET first: it often leaves weed's volume server hanging in its graceful stop
        client = s3_client(s3.endpoint)
        client.create_bucket(Bucket="it-stop-pid")
        body = os.urandom(64 * 1024 * 1024)
        client.put_object(Bucket="it-stop-pid", Key="big", Body=body)
        assert client.get_object(Bucket="it-stop-pid", Key="big")["Body"].read() == body
        # timed inside the other process: its own start-up (imports) is slow on a busy machine
        code = (f"import time; from emulator.s3.embedded import stop_pid; started = time.monotonic(); "
                f"print(stop_pid({pid}, 15), time.monotonic() - started)")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                             cwd=Path(__file__).resolve().parents[2], check=True).stdout
        stopped, took = out.split()
        assert stopped == "True"
        assert not alive(pid)
        assert float(took) < 14                          # not the 15 s SIGKILL fallback
    finally:
        s3.stop()
    assert stop_pid(pid, 1) is False                                # gone: nothing to do
    assert stop_pid(os.getpid(), 1) is False                        # not weed: left alone
    assert alive(os.getpid())


def test_start_timeout_reports_the_weed_log(tmp_path: Path) -> None:
    s3 = EmbeddedS3(tmp_path / "data", free_port(), ACCESS, SECRET, log_file=tmp_path / "weed.log")
    with pytest.raises(S3StartError) as info:
        s3.start(timeout=0.01)
    message = str(info.value)
    assert "not ready in time" in message and str(tmp_path / "weed.log") in message
    assert "--- smlocal" in message                                 # the tail of the log
    assert s3.pid is None
    s3.start()                                                       # and a real start still works
    s3.stop()


def _http_status(url: str, method: str = "GET", data: bytes | None = None) -> int:
    request = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=5) as reply:
            return reply.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_only_the_s3_port_serves_other_local_users(server: EmbeddedS3) -> None:
    """Issue 18, item 8: the filer read and wrote every bucket, the master's /col/delete dropped a
    bucket's data and any gRPC client (weed shell) could do anything, all without credentials."""
    s3 = s3_client(server.endpoint)
    bucket = f"guarded-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="secret.txt", Body=b"private")
    ports = server.internal_ports
    assert ports is not None
    base = "http://127.0.0.1:{}"
    assert _http_status(base.format(ports.filer) + f"/buckets/{bucket}/secret.txt") in (401, 403, 404)
    assert _http_status(base.format(ports.filer) + f"/buckets/{bucket}/planted.txt", "PUT", b"x") in (401, 403, 404)
    assert _http_status(base.format(ports.master) + f"/col/delete?collection={bucket}") in (401, 403, 404)
    assert _http_status(base.format(ports.master) + "/dir/assign") in (401, 403, 404)
    assert _http_status(base.format(ports.volume) + "/1,01637037d6") in (401, 403, 404)
    assert _http_status(base.format(ports.volume) + "/1,01637037d6", "POST", b"x") in (401, 403, 404)
    # a gRPC client without smlocal's certificate (weed shell from /tmp: no security.toml) gets nothing
    weed = Path(sys.executable).parent / "weed"
    try:
        shell = subprocess.run([str(weed), "shell", f"-master=127.0.0.1:{ports.master}"], cwd="/tmp",
                               input=f"collection.list\nfs.ls /buckets/{bucket}\n", capture_output=True, text=True,
                               timeout=15, env={"PATH": os.environ.get("PATH", ""), "HOME": "/tmp"})
        output = shell.stdout
    except subprocess.TimeoutExpired as exc:      # it keeps retrying the TLS-only port: refused
        output = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    assert "secret.txt" not in output and f'collection:"{bucket}"' not in output, output
    # weed's unix sockets (in /tmp) are the owner's alone
    for path in Path("/tmp").glob("seaweedfs-*.sock"):
        if any(str(p) in path.name for p in [server.port, *ports.all()]):
            assert path.stat().st_mode & 0o077 == 0, path
    assert s3.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"private"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["secret.txt"]
    assert (server.data_dir / "weed" / "security.toml").stat().st_mode & 0o077 == 0
