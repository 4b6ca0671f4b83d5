"""The toolkit's pre-forked HTTP server on the host (a subprocess, no Docker): keep-alive, chunked
bodies, HEAD, several workers, the worker timeout and SIGTERM."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import free_port

SRC = Path(__file__).resolve().parents[2] / "containers" / "toolkit" / "src"
SERVER = """
import os, sys, time
sys.path.insert(0, {src!r})
from smlocal_toolkit.serving import server

def app(environ, start_response):
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(30)
    data = f"{{os.getpid()}}:{{len(environ['wsgi.input'].read())}}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]

server.configure_logging()
server.run(lambda: app, sock=server.bind({port}), workers=2, timeout=2)
"""


@pytest.fixture()
def served(tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "w+")
    proc = subprocess.Popen([sys.executable, "-c", SERVER.format(src=str(SRC), port=port)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "the server did not start"
            time.sleep(0.05)
    yield port, proc, tmp_path / "server.log"
    try:   # the server and its pre-forked workers (killing the server alone leaves them running)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    log.close()


def request(connection, method, path, body=None, headers=None, chunked=False):
    connection.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
    response = connection.getresponse()
    return response, response.read()


def test_keep_alive_chunked_bodies_and_head(served):
    port, _, log = served
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    response, body = request(connection, "POST", "/invocations", b"12345")
    sock = connection.sock
    assert response.status == 200 and body.endswith(b":5") and response.getheader("Connection") == "keep-alive"
    response, body = request(connection, "POST", "/invocations", iter([b"abc", b"defg"]),
                             {"Transfer-Encoding": "chunked"}, chunked=True)
    assert body.endswith(b":7") and connection.sock is sock
    response, body = request(connection, "HEAD", "/ping")
    assert response.status == 200 and body == b"" and connection.sock is sock
    response, body = request(connection, "GET", "/ping", headers={"Connection": "close"})
    assert response.getheader("Connection") == "close"
    assert '"POST /invocations HTTP/1.1" 200' in log.read_text()


def test_requests_spread_over_the_workers(served):
    port = served[0]
    pids = set()
    for _ in range(40):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        pids.add(request(connection, "GET", "/ping")[1].split(b":")[0])
        connection.close()
        if len(pids) == 2:
            break
    assert len(pids) == 2


def test_a_request_beyond_the_timeout_kills_its_worker_which_is_replaced(served):
    port, proc, log = served
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=45)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):   # /sleep would answer after 30 s
        request(connection, "GET", "/sleep")
    fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert request(fresh, "GET", "/ping")[0].status == 200   # the other worker may answer this one
    deadline = time.monotonic() + 15   # the master logs the replacement when it reaps the killed worker
    while "starting a new one" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = log.read_text()
    assert "WORKER TIMEOUT" in text and "starting a new one" in text
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
