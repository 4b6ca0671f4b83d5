"""What the gateway adds to an invocation, against calling the inference container directly.

    python bench/invoke_overhead.py [--seconds 4] [--clients 1,16] [--payload 1024]

One endpoint (the test serving image, stdlib http.server with keep-alive) is deployed through
boto3; then the same POST is sent, in one run and alternating:

- **direct**: raw HTTP/1.1 keep-alive to the container's published port (``/invocations``);
- **gateway raw**: raw HTTP/1.1 keep-alive to ``POST /endpoints/<name>/invocations`` on smlocal;
- **gateway boto3**: ``sagemaker-runtime`` ``invoke_endpoint`` (signing, botocore parsing).

Each side runs N client processes (1 and 16) for ``--seconds``; p50/p99 latency and throughput
are printed with the ratios against direct. The gateway runs in this process; clients run in
their own processes so they never share its GIL.
"""

from __future__ import annotations

import argparse
import http.client
import io
import multiprocessing as mp
import statistics
import sys
import tarfile
import time
from pathlib import Path

import boto3
import docker
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import stack  # noqa: E402

IMAGE = "smlocal-test/serve:latest"
ENDPOINT = "bench-invoke"


def build_image() -> None:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for path in sorted((ROOT / "tests" / "integration" / "images" / "serve").iterdir()):
            tar.add(path, arcname=path.name)
    context.seek(0)
    docker.from_env().images.build(fileobj=context, custom_context=True, tag=IMAGE, rm=True)


def _raw_worker(host: str, port: int, path: str, body: bytes, seconds: float, out: mp.Queue, start) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=70)
    headers = {"Content-Type": "application/octet-stream", "Accept": "application/octet-stream"}
    latencies = []
    start.wait()
    deadline = time.perf_counter() + seconds
    while (now := time.perf_counter()) < deadline:
        conn.request("POST", path, body, headers)
        response = conn.getresponse()
        data = response.read()
        latencies.append(time.perf_counter() - now)
        assert response.status == 200 and data.endswith(body), (response.status, data[:200])
    out.put(latencies)


def _boto_worker(url: str, body: bytes, seconds: float, out: mp.Queue, start) -> None:
    client = boto3.client("sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench",
                          config=Config(retries={"max_attempts": 1}))
    latencies = []
    client.invoke_endpoint(EndpointName=ENDPOINT, Body=body)  # warm: connection, credentials
    start.wait()
    deadline = time.perf_counter() + seconds
    while (now := time.perf_counter()) < deadline:
        data = client.invoke_endpoint(EndpointName=ENDPOINT, Body=body,
                                      ContentType="application/octet-stream")["Body"].read()
        latencies.append(time.perf_counter() - now)
        assert data.endswith(body)
    out.put(latencies)


def measure(target, args: tuple, clients: int, seconds: float) -> dict[str, float]:
    ctx = mp.get_context("fork")
    out, start = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=target, args=(*args, seconds, out, start)) for _ in range(clients)]
    for proc in procs:
        proc.start()
    time.sleep(0.5 + 0.05 * clients)       # let every client connect and warm up
    start.set()
    latencies = [lat for _ in procs for lat in out.get(timeout=seconds + 120)]
    for proc in procs:
        proc.join()
    latencies.sort()
    return {"p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
            "rps": len(latencies) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--clients", default="1,16")
    parser.add_argument("--payload", type=int, default=1024, help="request body bytes")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each side is kept")
    args = parser.parse_args()
    build_image()
    body = b"x" * args.payload
    with stack() as (url, _s3):
        sm = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
        sm.create_model(ModelName=ENDPOINT, PrimaryContainer={"Image": IMAGE, "Environment": {"TAG": "t"}},
                        ExecutionRoleArn="arn:aws:iam::123456789012:role/R")
        sm.create_endpoint_config(EndpointConfigName=ENDPOINT, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": ENDPOINT, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        sm.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=ENDPOINT)
        sm.get_waiter("endpoint_in_service").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 1})
        container = docker.from_env().containers.list(filters={"label": f"org.smlocal.endpoint={ENDPOINT}"})[0]
        port = int(container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
        gw_port = int(url.rsplit(":", 1)[1])
        sides = {
            "direct": (_raw_worker, ("127.0.0.1", port, "/invocations", body)),
            "gateway raw": (_raw_worker, ("127.0.0.1", gw_port, f"/endpoints/{ENDPOINT}/invocations", body)),
            "gateway boto3": (_boto_worker, (url, body)),
        }
        try:
            print(f"payload {args.payload} B, {args.seconds:g} s per measurement, best of {args.rounds} rounds")
            for clients in [int(c) for c in args.clients.split(",")]:
                best: dict[str, dict[str, float]] = {}
                for _ in range(args.rounds):
                    for side, (target, target_args) in sides.items():
                        result = measure(target, target_args, clients, args.seconds)
                        if side not in best or result["rps"] > best[side]["rps"]:
                            best[side] = result
                direct = best["direct"]
                print(f"\n{clients} client(s)")
                print("| side | p50 ms | p99 ms | req/s | p50 added | throughput vs direct |")
                print("|---|---|---|---|---|---|")
                for side, result in best.items():
                    added = result["p50_ms"] - direct["p50_ms"]
                    print(f"| {side} | {result['p50_ms']:.3f} | {result['p99_ms']:.3f} | {result['rps']:.0f} | "
                          f"{added:+.3f} ms | {result['rps'] / direct['rps']:.0%} |")
        finally:
            sm.delete_endpoint(EndpointName=ENDPOINT)
            sm.get_waiter("endpoint_deleted").wait(EndpointName=ENDPOINT, WaiterConfig={"Delay": 1})


if __name__ == "__main__":
    main()
