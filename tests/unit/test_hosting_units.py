"""Hosting pieces without Docker: safe model extraction, the pooled upstream client, weighted
routing and the inference container contract."""

from __future__ import annotations

import asyncio
import collections
import io
import socket
import tarfile
import threading
from pathlib import Path

import pytest

from emulator.config import ArchiveLimits
from emulator.hosting import contract
from emulator.hosting.routing import Instance, Route, Target, VariantRoute
from emulator.infra import model_data
from emulator.infra.platform import PlatformEnv
from emulator.infra.staging import StagingError
from emulator.infra.upstream import UpstreamError, UpstreamPool


def tarball(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            payload = (data or {}).get(member.name, b"")
            member.size = len(payload) if member.isfile() else 0
            tar.addfile(member, io.BytesIO(payload) if member.isfile() else None)
    return path


def info(name: str, kind=tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type, member.linkname = kind, link
    return member


def test_extract_keeps_the_tree(tmp_path):
    archive = tarball(tmp_path / "m.tar.gz", [info("model.txt"), info("code/inference.py")],
                      {"model.txt": b"w", "code/inference.py": b"print()"})
    model_data.extract(archive, tmp_path / "model", "s3://b/m.tar.gz")
    assert (tmp_path / "model" / "model.txt").read_bytes() == b"w"
    assert (tmp_path / "model" / "code" / "inference.py").read_bytes() == b"print()"


@pytest.mark.parametrize("member", [
    info("../escape.txt"), info("link", tarfile.SYMTYPE, "/etc/passwd"),
    info("hard", tarfile.LNKTYPE, "../../outside"), info("dev", tarfile.CHRTYPE),
])
def test_extract_refuses_hostile_members(tmp_path, member):
    archive = tarball(tmp_path / "m.tar.gz", [member], {member.name: b"x"})
    with pytest.raises(StagingError, match="unsafe member"):
        model_data.extract(archive, tmp_path / "model", "s3://b/m.tar.gz")
    assert not (tmp_path / "escape.txt").exists()


def test_absolute_member_paths_land_inside_the_model_directory(tmp_path):
    archive = tarball(tmp_path / "m.tar.gz", [info("/tmp/owned.txt")], {"/tmp/owned.txt": b"x"})
    model_data.extract(archive, tmp_path / "model", "s3://b/m.tar.gz")
    assert (tmp_path / "model" / "tmp" / "owned.txt").read_bytes() == b"x"


def test_extract_refuses_what_is_not_a_tarball_and_bombs(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(StagingError, match="ModelDataUrl must point to a gzip-compressed tar file"):
        model_data.extract(bad, tmp_path / "model", "s3://b/bad.tar.gz")
    big = tarball(tmp_path / "big.tar.gz", [info("big.bin")], {"big.bin": b"y" * 11})
    with pytest.raises(StagingError, match="too large to extract"):
        model_data.extract(big, tmp_path / "model2", "s3://b/big.tar.gz", ArchiveLimits(max_total_bytes=10))
    assert not (tmp_path / "model2" / "big.bin").exists()


def test_weighted_routing_and_round_robin():
    def target(n: int) -> Target:
        return Target(f"c{n}", "primary", "127.0.0.1", 1000 + n, f"v/c{n}")
    route = Route("ep", [VariantRoute("A", 3.0, [Instance([target(1)]), Instance([target(2)])]),
                         VariantRoute("B", 1.0, [Instance([target(3)])]),
                         VariantRoute("Off", 0.0, [Instance([target(4)])])])
    counts = collections.Counter(route.variant(None).name for _ in range(4000))
    assert set(counts) == {"A", "B"} and 2.5 < counts["A"] / counts["B"] < 3.5
    assert route.variant("Off").name == "Off" and route.variant("Nope") is None
    variant = route.variant("A")
    assert [variant.next_instance().containers[0].port for _ in range(4)] == [1001, 1002, 1001, 1002]
    assert route.with_weights({"A": 0}).variant(None).name == "B"


def test_container_contract_env_ports_and_isolation(tmp_path):
    platform = PlatformEnv("eu-west-1", "http://s3:9000", "AK", "SK")
    model = {"PrimaryContainer": {"Image": "img", "Environment": {"SAGEMAKER_PROGRAM": "inference.py"}}}
    where = contract.Placement("ep", "d1", "AllTraffic", 0, 0)
    spec = contract.container_spec(model, where, "img:local", tmp_path, platform, (None, None))
    assert spec.command == ["serve"] and spec.entrypoint is None
    assert spec.binds == [(str(tmp_path), "/opt/ml/model", False)]
    assert spec.ports == {"8080/tcp": ("127.0.0.1", None)}
    assert spec.environment["S3_ENDPOINT_URL"] == "http://s3:9000"
    assert spec.environment["SAGEMAKER_PROGRAM"] == "inference.py"
    assert spec.labels["org.smlocal.kind"] == "endpoint" and spec.labels["org.smlocal.endpoint"] == "ep"
    assert contract.container_hostname(model, 0) == "primary"
    isolated = contract.container_spec({**model, "EnableNetworkIsolation": True}, where, "img", None, platform,
                                       (None, None))
    assert isolated.ports == {} and isolated.network == "smlocal-ep-ep-d1" and isolated.binds == []
    assert "AWS_SECRET_ACCESS_KEY" not in isolated.environment and "S3_ENDPOINT_URL" not in isolated.environment
    pipeline = {"Containers": [{"Image": "a", "ContainerHostname": "pre"}, {"Image": "b"}]}
    assert [contract.container_hostname(pipeline, i) for i in (0, 1)] == ["pre", "container-2"]
    assert contract.serverless_limits({"ServerlessConfig": {"MemorySizeInMB": 2048}}) == (None, 2048 * 1024 * 1024)


class RawServer:
    """Answers each request on a connection with the next canned response; counts connections."""

    def __init__(self, responses: list[bytes]) -> None:
        self.responses, self.connections = list(responses), 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.responses:
            conn, _ = self.sock.accept()
            self.connections += 1
            with conn:
                while self.responses:
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if not data:
                        break
                    head, _, rest = data.partition(b"\r\n\r\n")
                    length = int(dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])[b"Content-Length"])
                    while len(rest) < length:
                        rest += conn.recv(65536)
                    response = self.responses.pop(0)
                    conn.sendall(response)
                    if b"Connection: close" in response:
                        break


def test_upstream_reuses_connections_and_reads_every_framing():
    server = RawServer([
        b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 3\r\n\r\n1,2",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope",
        b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    ])

    async def run():
        pool = UpstreamPool()
        first = await pool.request("127.0.0.1", server.port, "POST", "/invocations", [("Accept", "x")], b"body")
        second = await pool.request("127.0.0.1", server.port, "POST", "/invocations", [], b"")
        third = await pool.request("127.0.0.1", server.port, "POST", "/invocations", [], b"x" * 100000)
        fourth = await pool.request("127.0.0.1", server.port, "POST", "/invocations", [], b"")
        pool.close()
        return first, second, third, fourth

    first, second, third, fourth = asyncio.run(run())
    assert (first.status, first.headers["content-type"], first.body) == (200, "text/csv", b"1,2")
    assert second.body == b"abcde"
    assert (third.status, third.body) == (400, b"nope")
    assert fourth.body == b"until close"
    assert server.connections == 2      # kept alive until the server said close


def test_upstream_errors_and_timeout():
    async def refused():
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        await UpstreamPool().request("127.0.0.1", port, "GET", "/ping", [])

    with pytest.raises(UpstreamError, match="cannot connect"):
        asyncio.run(refused())
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()

    async def slow():
        await UpstreamPool().request("127.0.0.1", silent.getsockname()[1], "POST", "/invocations", [], b"x",
                                     timeout=0.3)

    with pytest.raises((asyncio.TimeoutError, TimeoutError)):
        asyncio.run(slow())
    silent.close()
