"""What SigV4 verification (issue 18) costs per request, in one run: an InvokeEndpoint of 1 KiB as
botocore signs it, verified with the signing-key cache (the gateway's path), without it (four more
HMACs per request), and, for scale, botocore signing the same request. ``--e2e`` adds the latency of
InvokeEndpoint through a live gateway (the fast path up to the endpoint lookup, which answers
"not found") with SMLOCAL_AUTH on and off, alternating gateways so both see the same machine load.

    .venv/bin/python -m bench.auth_overhead [--n 20000] [--e2e]

The invocation budget is +1 ms p50 over a direct call (docs/benchmarks.md); the verification must
stay a small fraction of it.
"""

from __future__ import annotations

import argparse
import time
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from emulator.api.sigv4 import Verifier

ACCESS, SECRET = "AKIASMLOCALBENCH0001", "bench-secret-0123456789abcdef"
URL = "http://127.0.0.1:4599/endpoints/bench-endpoint/invocations"


def signed_request(body: bytes) -> tuple[str, str, list[tuple[str, str]], bytes]:
    request = AWSRequest("POST", URL, headers={"Content-Type": "text/csv", "Accept": "application/json",
                                               "User-Agent": "Boto3/1.35 md/Botocore#1.35"}, data=body)
    SigV4Auth(Credentials(ACCESS, SECRET), "sagemaker", "us-east-1").add_auth(request)
    parts = urllib.parse.urlsplit(URL)
    headers = [("host", parts.netloc)] + [(k.lower(), v) for k, v in request.headers.items()]
    return parts.path, parts.query, headers, body


def per_call(fn, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def e2e(rounds: int = 2, calls: int = 2000) -> None:
    import socket
    import tempfile
    import threading
    from pathlib import Path

    import httpx
    import uvicorn

    from emulator.api.limits import uvicorn_options
    from emulator.config import Settings
    from emulator.server import create

    latencies: dict[str, list[float]] = {"on": [], "off": []}
    for _ in range(rounds):
        for mode in ("on", "off"):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            settings = Settings(data_dir=Path(tempfile.mkdtemp()), port=port, auth=mode == "on",
                                credentials=(ACCESS, SECRET))
            app, _ = create(settings, containers=object())  # type: ignore[arg-type]
            server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", **uvicorn_options(
                settings.header_timeout, settings.max_header_bytes, settings.keep_alive_timeout)))
            thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.01)
            url = f"http://127.0.0.1:{port}/endpoints/bench-endpoint/invocations"
            request = AWSRequest("POST", url, headers={"Content-Type": "text/csv"}, data=b"1.0," * 256)
            SigV4Auth(Credentials(ACCESS, SECRET), "sagemaker", "us-east-1").add_auth(request)
            headers = dict(request.headers.items())
            with httpx.Client() as client:
                for i in range(calls + 200):
                    started = time.perf_counter()
                    reply = client.post(url, content=b"1.0," * 256, headers=headers)
                    if i >= 200:
                        latencies[mode].append(time.perf_counter() - started)
                assert reply.status_code == 400 and "not found" in reply.text, reply.text
            server.should_exit = True
            thread.join(10)
            sock.close()
    print(f"\nInvokeEndpoint through the gateway ({rounds} x {calls} calls per mode, 1 client)")
    for mode, values in latencies.items():
        values.sort()
        print(f"SMLOCAL_AUTH={mode:3}  p50 {values[len(values) // 2] * 1e3:.3f} ms   "
              f"p90 {values[int(len(values) * 0.9)] * 1e3:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--e2e", action="store_true")
    args = parser.parse_args()
    path, query, headers, body = signed_request(b"1.0," * 256)
    verifier = Verifier(ACCESS, SECRET)

    def cached() -> None:
        verifier.verify("POST", path, query, headers, body)

    def uncached() -> None:
        verifier._keys.clear()
        verifier.verify("POST", path, query, headers, body)

    def sign() -> None:
        request = AWSRequest("POST", URL, headers={"Content-Type": "text/csv"}, data=body)
        SigV4Auth(Credentials(ACCESS, SECRET), "sagemaker", "us-east-1").add_auth(request)

    cached()
    rows = [("verify, cached signing key (the gateway)", per_call(cached, args.n)),
            ("verify, key derived every time", per_call(uncached, args.n)),
            ("botocore signing the same request", per_call(sign, args.n // 4))]
    base = rows[0][1]
    print(f"{'what':45} {'us/request':>11} {'vs cached':>10} {'of 1 ms budget':>15}")
    for name, micros in rows:
        print(f"{name:45} {micros:11.1f} {micros / base:9.2f}x {micros / 1000:14.1%}")
    if args.e2e:
        e2e()


if __name__ == "__main__":
    main()
