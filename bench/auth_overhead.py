"""What SigV4 verification (issue 18) costs per request, in one run: an InvokeEndpoint of 1 KiB as
botocore signs it, verified with the signing-key cache (the gateway's path), without it (four more
HMACs per request), and, for scale, botocore signing the same request.

    .venv/bin/python -m bench.auth_overhead [--n 20000]

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
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


if __name__ == "__main__":
    main()
