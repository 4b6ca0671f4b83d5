"""Slow clients and oversized requests (issue 18, item 8): header and body deadlines, header size,
keep-alive idling and the S3 body cap, on raw sockets against a live gateway with short limits."""

from __future__ import annotations

import socket
import time

import pytest
import rawclient as raw
from support import live_gateway


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    with live_gateway(tmp_path_factory.mktemp("limits"), header_timeout=1.0, body_timeout=1.0,
                      keep_alive_timeout=1.0, max_header_bytes=16 * 1024, max_s3_body_bytes=1000) as gateway:
        yield gateway


def _connect(gateway) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", gateway.port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def test_headers_that_never_finish_get_408_and_the_connection_closes(limited):
    sock = _connect(limited)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    started = time.monotonic()
    for _ in range(3):                   # a byte now and then does not extend the deadline
        time.sleep(0.3)
        sock.sendall(b"a")
    answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 ") and time.monotonic() - started < 5, answer


def test_a_silent_connection_is_closed(limited):
    sock = _connect(limited)
    started = time.monotonic()
    assert _read_all(sock).startswith(b"HTTP/1.1 408 ") and time.monotonic() - started < 5


def test_megabyte_headers_get_431(limited):
    for chunked in (False, True):
        sock = _connect(limited)
        head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
        try:
            if chunked:
                for i in range(0, len(head), 4096):
                    sock.sendall(head[i:i + 4096])
            else:
                sock.sendall(head)
        except (BrokenPipeError, ConnectionResetError):
            pass                          # the server closed the connection while we were still sending
        answer = _read_all(sock)
        assert answer.startswith(b"HTTP/1.1 431 "), (chunked, answer[:200])


def test_a_stalled_body_closes_the_connection(limited, caplog):
    sock = _connect(limited)
    sock.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: SageMaker.ListModels\r\n"
                 b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 100\r\n\r\n{")
    started = time.monotonic()
    _read_all(sock)
    assert time.monotonic() - started < 5
    time.sleep(0.5)
    assert "a bug in smlocal" not in caplog.text      # a client cut off is not an internal error


def test_idle_keep_alive_connections_close(limited):
    sock = _connect(limited)
    sock.sendall(b"GET /_smlocal/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    time.sleep(0.3)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    started = time.monotonic()
    assert _read_all(sock) == b"" and time.monotonic() - started < 4


def test_ordinary_requests_still_pass(limited):
    body = b'{"NameContains": "' + b"x" * 60 + b'"}'
    assert raw.post(limited.url, "SageMaker.ListModels", body).status_code == 200
    big = raw.post(limited.url, "SageMaker.ListModels", b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert big.status_code == 200       # a big body right behind the headers is not a big header
    for _ in range(3):                  # keep-alive reuse
        assert raw.post(limited.url, "SageMaker.ListModels", b"{}").status_code == 200


def test_s3_uploads_above_the_cap_are_refused(limited):
    reply = raw.request("PUT", limited.url + "/bucket/key", "s3", b"x" * 2000, {
        "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    assert reply.status_code == 400 and "<Code>EntityTooLarge</Code>" in reply.text
