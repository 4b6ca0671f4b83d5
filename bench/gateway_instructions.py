"""Gateway CPU per request as instruction counts (callgrind), which a busy 2-core machine does not blur.

`smlocal up` runs under ``valgrind --tool=callgrind --instr-atstart=no``; once it answers and its
records are seeded, instrumentation is switched on, the counters are zeroed, one client sends N
requests of an operation, and the dump's total is divided by N. Everything the served process did in
that window counts (HTTP parsing, dispatch, handler, serialisation, and any background thread).

    python -m bench.gateway_instructions [--checkout DIR] [--requests 200] [--invoke]

``--checkout`` runs another checkout's code (e.g. a worktree of an older commit) with this
environment, to compare two versions in one run. ``--invoke`` measures InvokeEndpoint instead (1 KiB,
one keep-alive connection) against an endpoint of the bench's serving image (Docker). Not part of
``python -m bench``: a run takes several minutes (the server starts under valgrind).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
from botocore.config import Config

from bench.emulator_proc import stop_endpoint_containers

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
ROOT = Path(__file__).resolve().parents[1]


def _client(url: str, key: str, secret: str):
    return boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
                        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}))


def _ready(data: Path, process: subprocess.Popen, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"smlocal exited with {process.returncode}")
        runtime = data / "runtime.json"
        if runtime.exists():
            info = json.loads(runtime.read_text())
            try:
                _client(info["gateway_url"], info["access_key"], info["secret_key"]).list_models(MaxResults=1)
                return info
            except Exception:  # noqa: BLE001 - not answering yet
                pass
        time.sleep(2)
    raise SystemExit("smlocal did not answer under valgrind in time")


def _control(pid: int, *args: str) -> None:
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True, timeout=600)


def _total(out: Path, before: set[Path], keep: Path | None = None) -> int:
    """The instruction total of the newest dump (copied to ``keep`` for callgrind_annotate)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dumps = sorted(set(out.parent.glob(out.name + "*")) - before, key=lambda p: p.stat().st_mtime)
        for dump in reversed(dumps):
            text = dump.read_text(errors="replace")
            found = re.search(r"^(?:summary|totals): (\d+)", text, re.M)
            if found:
                if keep is not None:
                    shutil.copy(dump, keep)
                return int(found.group(1))
        time.sleep(1)
    raise SystemExit("no callgrind dump appeared")


def _invocations(info: dict, sm) -> dict:
    """InvokeEndpoint on an endpoint of the bench's serving image, over one keep-alive connection."""
    from bench import images
    from bench.endpoint import create_model

    s3 = boto3.client("s3", endpoint_url=info["s3_endpoint"], region_name="us-east-1",
                      aws_access_key_id=info["access_key"], aws_secret_access_key=info["secret_key"])
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="model.tar.gz", Body=images.model_tarball())
    create_model(sm, "cg")
    sm.create_endpoint(EndpointName="cg", EndpointConfigName="cg")
    deadline = time.monotonic() + 600
    while sm.describe_endpoint(EndpointName="cg")["EndpointStatus"] == "Creating" and time.monotonic() < deadline:
        time.sleep(1)
    runtime = boto3.client("sagemaker-runtime", endpoint_url=info["gateway_url"], region_name="us-east-1",
                           aws_access_key_id=info["access_key"], aws_secret_access_key=info["secret_key"],
                           config=Config(retries={"max_attempts": 1}))
    body = b"x" * 1024
    return {"InvokeEndpoint": lambda i: runtime.invoke_endpoint(
        EndpointName="cg", Body=body, ContentType="application/octet-stream",
        Accept="application/octet-stream")["Body"].read()}


def measure(checkout: Path, requests: int, invoke: bool = False, keep: Path | None = None) -> dict[str, int]:
    with tempfile.TemporaryDirectory(prefix="smlocal-cg-") as tmp:
        data, out = Path(tmp) / "data", Path(tmp) / "callgrind.out"
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
               sys.executable, "-c", "from emulator.cli.main import app; app()", "up",
               "--port", str(_free_port()), "--s3-port", str(_free_port()),
               "--data-dir", str(data), "--no-build-images"]
        process = subprocess.Popen(cmd, cwd=checkout, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            info = _ready(data, process)
            sm = _client(info["gateway_url"], info["access_key"], info["secret_key"])
            for index in range(0 if invoke else 10):
                sm.create_model(ModelName=f"seed-{index}", ExecutionRoleArn=ROLE,
                                PrimaryContainer={"Image": "smlocal-bench/none:1"})
            operations = _invocations(info, sm) if invoke else {
                "DescribeModel": lambda i: sm.describe_model(ModelName=f"seed-{i % 10}"),
                "ListModels": lambda i: sm.list_models(MaxResults=10),
                "CreateModel": lambda i: sm.create_model(ModelName=f"m-{i}", ExecutionRoleArn=ROLE,
                                                         PrimaryContainer={"Image": "smlocal-bench/none:1"}),
            }
            result = {}
            for name, call in operations.items():
                for i in range(10):               # warm-up
                    call(10_000 + i)
                _control(process.pid, "-i", "on")
                _control(process.pid, "-z")
                before = set(out.parent.glob(out.name + "*"))
                for i in range(requests):
                    call(i)
                _control(process.pid, "-d")
                _control(process.pid, "-i", "off")
                result[name] = _total(out, before, keep.with_suffix(f".{name}") if keep else None) // requests
                print(f"{name}: {result[name]:,} instructions per request", flush=True)
            return result
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            stop_endpoint_containers(data)


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--invoke", action="store_true")
    parser.add_argument("--keep", type=Path, help="copy each dump to KEEP.<operation> (callgrind_annotate)")
    args = parser.parse_args()
    print(json.dumps(measure(args.checkout.resolve(), args.requests, args.invoke, args.keep)))


if __name__ == "__main__":
    main()
