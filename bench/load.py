"""A closed-loop HTTP load generator: N client processes replay one prepared request over keep-alive
connections for a fixed time. The requests are serialized and signed once by botocore, so client
cost is a few microseconds per request and the server is what gets measured."""

from __future__ import annotations

import http.client
import multiprocessing as mp
import os
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import botocore.session

from bench.stats import latency_summary

UNIQUE = "BENCHUNIQUE000000000"  # replaced per request by a same-length counter (CreateModel names)


@dataclass
class Prepared:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Captured(Exception):
    def __init__(self, request) -> None:
        self.request = request


def prepare(url: str, service: str, operation: str, params: dict,
            keys: tuple[str, str] = ("bench", "bench")) -> Prepared:
    """The exact request botocore would send for `operation(**params)` to `url`, signed with `keys`
    (smlocal checks signatures: pass the emulator's keys)."""
    session = botocore.session.get_session()
    client = session.create_client(service, endpoint_url=url, region_name="us-east-1",
                                   aws_access_key_id=keys[0], aws_secret_access_key=keys[1])

    def capture(request, **_):
        raise _Captured(request)

    client.meta.events.register("before-send", capture)
    try:
        getattr(client, botocore.xform_name(operation))(**params)
    except _Captured as captured:
        request = captured.request
        parts = urlsplit(request.url)
        body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
        headers = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        return Prepared(request.method, parts.path + (f"?{parts.query}" if parts.query else ""), headers, body)
    raise RuntimeError("botocore sent nothing")


def _worker(host: str, port: int, req: Prepared, seconds: float, index: int, out, start) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=60)
    latencies, errors, counter = [], 0, 0
    start.wait()
    deadline = time.perf_counter() + seconds
    while (now := time.perf_counter()) < deadline:
        body = req.body
        if UNIQUE.encode() in body:
            counter += 1
            body = body.replace(UNIQUE.encode(), f"b{os.getpid() % 10**6:06d}x{counter:012d}".encode())
        conn.request(req.method, req.path, body, req.headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - now)
        if response.status >= 300:
            errors += 1
    out.put((latencies, errors))


def measure(url: str, req: Prepared, clients: int, seconds: float) -> dict[str, float]:
    parts = urlsplit(url)
    ctx = mp.get_context("fork")
    out, start = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=_worker, args=(parts.hostname, parts.port, req, seconds, i, out, start))
             for i in range(clients)]
    for proc in procs:
        proc.start()
    time.sleep(0.3 + 0.03 * clients)
    start.set()
    latencies, errors = [], 0
    for _ in procs:
        got, failed = out.get(timeout=seconds + 120)
        latencies += got
        errors += failed
    for proc in procs:
        proc.join()
    result = latency_summary(latencies, seconds)
    result["errors"] = errors
    return result
