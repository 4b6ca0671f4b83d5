"""The byte-level relay that lets containers on the Docker bridge reach the loopback-only S3."""

from __future__ import annotations

import hashlib
import os
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from support import S3_ACCESS, S3_SECRET

from emulator.s3.bridge import BridgeRelay, docker_bridge_gateway
from emulator.s3.embedded import EmbeddedS3

ACCESS, SECRET = S3_ACCESS, S3_SECRET
ROOT = Path(__file__).resolve().parents[2]


class _Echo(socketserver.BaseRequestHandler):
    """Echo until the client half-closes, then half-close back."""

    def handle(self) -> None:
        while data := self.request.recv(1 << 16):
            self.request.sendall(data)
        self.request.shutdown(socket.SHUT_WR)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    request_queue_size = 256          # 64 simultaneous connects overflow the default backlog of 5


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture()
def relay(echo_port: int) -> Iterator[BridgeRelay]:
    relay = BridgeRelay(echo_port, 0, listen_host="127.0.0.1")
    assert relay.start() == "127.0.0.1"
    yield relay
    relay.stop()


def roundtrip(port: int, payload: bytes) -> bytes:
    """Send everything while reading concurrently, half-close, read until the peer's FIN."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        def send() -> None:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send)
        sender.start()
        chunks = []
        while chunk := sock.recv(1 << 20):
            chunks.append(chunk)
        sender.join()
    return b"".join(chunks)


def test_relay_many_concurrent_connections(relay: BridgeRelay) -> None:
    payloads = [os.urandom(256 * 1024 + i) for i in range(64)]
    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(lambda p: roundtrip(relay.listen_port, p), payloads))
    assert results == payloads
    deadline = time.monotonic() + 5
    while relay.active_connections and time.monotonic() < deadline:
        time.sleep(0.05)
    assert relay.active_connections == 0


def test_relay_64mib_with_half_close(relay: BridgeRelay) -> None:
    payload = os.urandom(64 * 1024 * 1024)
    echoed = roundtrip(relay.listen_port, payload)
    assert len(echoed) == len(payload)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()


def test_relay_resets_clients_when_target_is_down() -> None:
    with socket.socket() as target:        # bound, never listening: connecting to it is refused
        target.bind(("127.0.0.1", 0))
        relay = BridgeRelay(target.getsockname()[1], 0, listen_host="127.0.0.1")
        assert relay.start() == "127.0.0.1" and relay.listen_port != 0
        _expect_reset(relay)


def _expect_reset(relay: BridgeRelay) -> None:
    try:
        with socket.create_connection(("127.0.0.1", relay.listen_port), timeout=10) as sock:
            with pytest.raises(ConnectionResetError):                    # like a refused connect
                sock.recv(1)
    finally:
        relay.stop()


def test_relay_stop_drops_connections_and_is_idempotent(relay: BridgeRelay) -> None:
    sock = socket.create_connection(("127.0.0.1", relay.listen_port), timeout=10)
    sock.sendall(b"ping")
    assert sock.recv(4) == b"ping"
    relay.stop()
    relay.stop()
    try:
        assert sock.recv(1) == b""
    except ConnectionResetError:
        pass
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", relay.listen_port), timeout=5).close()
    assert relay.address is None


def test_sigv4_and_64mib_objects_pass_through_the_relay(embedded_s3: EmbeddedS3) -> None:
    with BridgeRelay(embedded_s3.port, 0, listen_host="127.0.0.1") as relay:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{relay.listen_port}",
                              region_name="us-east-1", aws_access_key_id=ACCESS,
                              aws_secret_access_key=SECRET,
                              config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        client.create_bucket(Bucket="relay-big")
        body = os.urandom(64 * 1024 * 1024)
        client.put_object(Bucket="relay-big", Key="big.bin", Body=body)
        got = client.get_object(Bucket="relay-big", Key="big.bin")["Body"].read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(body).digest()


# --- through Docker --------------------------------------------------------------------------------
PROBE = """
import sys, urllib.request, urllib.error
for url in sys.argv[1:]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            print("STATUS", resp.status, resp.read().decode())
    except urllib.error.HTTPError as err:
        print("STATUS", err.code, err.read().decode())
"""


@pytest.mark.docker
def test_container_reaches_s3_through_the_bridge(embedded_s3: EmbeddedS3, bridge_relay: BridgeRelay,
                                                 base_image: str) -> None:
    import docker

    assert bridge_relay.address == docker_bridge_gateway()
    host_client = boto3.client("s3", endpoint_url=embedded_s3.endpoint, region_name="us-east-1",
                               aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                               config=Config(s3={"addressing_style": "path"}))
    host_client.create_bucket(Bucket="relay-docker")
    host_client.put_object(Bucket="relay-docker", Key="hello.txt", Body=b"hello from the host")
    # a URL presigned for the name the container uses: SigV4 must verify through the relay
    container_url = f"http://host.docker.internal:{bridge_relay.listen_port}"
    presigner = boto3.client("s3", endpoint_url=container_url, region_name="us-east-1",
                             aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                             config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    presigned = presigner.generate_presigned_url(
        "get_object", Params={"Bucket": "relay-docker", "Key": "hello.txt"}, ExpiresIn=300)

    client = docker.from_env()
    output = client.containers.run(
        base_image, ["python3", "-c", PROBE, container_url + "/", presigned],
        extra_hosts={"host.docker.internal": "host-gateway"}, remove=True, stdout=True, stderr=True,
    ).decode()
    anonymous, signed = output.split("STATUS ")[1:]
    assert anonymous.startswith("403") and "<Error><Code>AccessDenied</Code>" in anonymous, output
    assert signed.strip() == "200 hello from the host", output
