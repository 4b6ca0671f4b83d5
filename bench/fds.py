"""A process's open file descriptors by what they are: the Docker engine's connections, connections to
the embedded S3 server, clients of the gateway, connections to endpoint containers, files.

`python -m bench.fds JOBS ENDPOINTS` runs no-op jobs and endpoints in batches against a fresh `smlocal
up` and prints the breakdown after each batch (issue 19: whether the sockets grow with the work or stay
within bounded pools).
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import time
from urllib.parse import urlsplit

import psutil

# What `smlocal up` keeps when idle once the work is over, besides its baseline (see bench/NOTES.md):
# up to 10 idle connections to the Docker engine (one pool, emulator.infra.docker_engine.POOL_SIZE) and
# up to 10 to the embedded S3 server (botocore's default max_pool_connections), less what the baseline
# already held. The benchmark's own keep-alive connections to the gateway (one per client it made) are
# not the emulator's: ``own`` leaves them out.
POOLED = 20
CLIENTS = "clients of the gateway"


def own(count: int, kinds: dict[str, int]) -> int:
    """The fds the emulator holds for itself: all but its clients' connections."""
    return count - kinds.get(CLIENTS, 0)


def _unix_peers() -> dict[str, str]:
    """Unix socket inode -> the command owning its peer (``ss -xp``; empty without iproute2)."""
    try:
        lines = subprocess.run(["ss", "-xapn"], capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {}
    owner, peer_of = {}, {}
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < 8:
            continue
        owner[parts[5]] = ",".join(sorted(set(re.findall(r'\("([^"]+)"', " ".join(parts[8:]))))) or "?"
        peer_of[parts[5]] = parts[7]
    return {inode: owner.get(peer, "?") for inode, peer in peer_of.items()}


def breakdown(pid: int, gateway_port: int, s3_port: int) -> tuple[int, dict[str, int]]:
    """(open fds, count per kind) of process ``pid``."""
    proc = psutil.Process(pid)
    inet = {}
    for conn in proc.net_connections(kind="inet"):
        if conn.status == psutil.CONN_LISTEN:
            inet[conn.fd] = "listening"
        elif conn.raddr and conn.raddr.port == s3_port:
            inet[conn.fd] = "to S3"
        elif conn.laddr and conn.laddr.port in (gateway_port, s3_port):
            inet[conn.fd] = CLIENTS if conn.laddr.port == gateway_port else "S3's clients"
        else:
            inet[conn.fd] = "to endpoint containers/other TCP"
    peers = _unix_peers()
    kinds: collections.Counter[str] = collections.Counter()
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        inode = re.fullmatch(r"socket:\[(\d+)\]", target)
        if int(name) in inet:
            kinds[inet[int(name)]] += 1
        elif inode:
            peer = peers.get(inode.group(1), "?")
            kinds["to the Docker engine" if "dockerd" in peer else f"unix ({peer})"] += 1
        else:
            kinds["files, pipes, epoll"] += 1
    return proc.num_fds(), dict(kinds)


def settle(pid: int, gateway_port: int, s3_port: int, baseline: int, seconds: float = 20.0
           ) -> tuple[int, dict[str, int], float]:
    """Wait until ``pid``'s own fds (``own``) are back within ``POOLED`` of ``baseline`` (or ``seconds``
    passed): (own fds, breakdown, seconds waited)."""
    started = time.monotonic()
    while True:
        count, kinds = breakdown(pid, gateway_port, s3_port)
        count = own(count, kinds)
        waited = time.monotonic() - started
        if count <= baseline + POOLED or waited >= seconds:
            return count, kinds, waited
        time.sleep(1)


def _show(label: str, pid: int, ports: tuple[int, int]) -> None:
    count, kinds = breakdown(pid, *ports)
    print(f"{label}: {count} fds, {psutil.Process(pid).num_threads()} threads  "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])), flush=True)


def main() -> None:
    from bench import endpoint, images
    from bench.emulator_proc import ROLE, running

    job_batches = [int(x) for x in sys.argv[1].split(",")] if len(sys.argv) > 1 else [10, 40, 50]
    ep_batches = [int(x) for x in sys.argv[2].split(",")] if len(sys.argv) > 2 else [5, 10]
    images.build_all()
    with running() as emu:
        pid = emu.process.pid
        ports = (urlsplit(emu.url).port or 80, urlsplit(emu.info.s3_endpoint).port or 80)
        s3 = emu.s3()
        s3.create_bucket(Bucket="bench")
        s3.put_object(Bucket="bench", Key="model.tar.gz", Body=images.model_tarball())
        sm, runtime = emu.client(), emu.client("sagemaker-runtime")
        _show("baseline", pid, ports)
        done = 0
        for batch in job_batches:
            names = [f"fds-job-{done + i}" for i in range(batch)]
            for name in names:
                sm.create_training_job(
                    TrainingJobName=name, RoleArn=ROLE,
                    AlgorithmSpecification={"TrainingImage": images.TRAIN, "TrainingInputMode": "File"},
                    OutputDataConfig={"S3OutputPath": "s3://bench/output"},
                    ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})
            while any(sm.describe_training_job(TrainingJobName=n)["TrainingJobStatus"] in ("InProgress", "Stopping")
                      for n in names):
                time.sleep(1)
            done += batch
            time.sleep(5)
            _show(f"after {done} jobs (+5 s)", pid, ports)
        done = 0
        for batch in ep_batches:
            names = [f"fds-ep-{done + i}" for i in range(batch)]
            for name in names:
                endpoint.create_model(sm, name)
                sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
            for name in names:
                while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
                    time.sleep(0.5)
                runtime.invoke_endpoint(EndpointName=name, Body=b"ping", ContentType="application/octet-stream")
            _show(f"{batch} endpoints in service", pid, ports)
            for name in names:
                sm.delete_endpoint(EndpointName=name)
            for name in names:
                while name in {e["EndpointName"] for e in sm.list_endpoints(NameContains=name)["Endpoints"]}:
                    time.sleep(0.5)
            done += batch
            time.sleep(5)
            _show(f"after {done} endpoints deleted (+5 s)", pid, ports)


if __name__ == "__main__":
    main()
