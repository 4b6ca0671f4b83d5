"""Endpoints: CreateEndpoint -> InService against the container's first healthy /ping, DeleteEndpoint
latency, SDK deploy()/delete_endpoint() against local mode, and InvokeEndpoint overhead against
calling the container directly and against local mode's predictor."""

from __future__ import annotations

import http.client
import tempfile
import threading
import time
from pathlib import Path

import docker
import psutil

from bench import images, load
from bench.emulator_proc import ROLE, Emulator
from bench.peer_run import local_mode_leftovers, sdk
from bench.stats import ratio, summary

LABEL = "org.smlocal.endpoint"


def _published_port(client: docker.DockerClient, name: str, stop: threading.Event) -> int | None:
    while not stop.is_set():
        for container in client.containers.list(filters={"label": f"{LABEL}={name}"}):
            ports = (container.attrs["NetworkSettings"].get("Ports") or {}).get("8080/tcp")
            if ports:
                return int(ports[0]["HostPort"])
        time.sleep(0.005)
    return None


def _first_healthy_ping(name: str, found: dict, stop: threading.Event) -> None:
    port = _published_port(docker.from_env(), name, stop)
    while port and not stop.is_set():
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                found["ping"] = time.perf_counter()
                return
        except OSError:
            pass
        time.sleep(0.002)


def create_model(sm, name: str) -> None:
    sm.create_model(ModelName=name, PrimaryContainer={"Image": images.SERVE, "ModelDataUrl": "s3://bench/model.tar.gz"},
                    ExecutionRoleArn=ROLE)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])


def in_service(sm, name: str) -> dict[str, float]:
    """One CreateEndpoint: seconds to InService, and how far InService trails the first healthy ping."""
    found: dict[str, float] = {}
    stop = threading.Event()
    poller = threading.Thread(target=_first_healthy_ping, args=(name, found, stop), daemon=True)
    poller.start()
    started = time.perf_counter()
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while (status := sm.describe_endpoint(EndpointName=name)["EndpointStatus"]) == "Creating":
        time.sleep(0.005)
    seen = time.perf_counter()
    stop.set()
    poller.join(5)
    if status != "InService" or "ping" not in found:
        raise RuntimeError(f"{name}: {status}, ping seen: {'ping' in found}")
    return {"create_to_in_service_s": seen - started, "after_first_ping_s": seen - found["ping"]}


def delete(sm, name: str) -> float:
    started = time.perf_counter()
    sm.delete_endpoint(EndpointName=name)
    answered = time.perf_counter() - started
    while True:
        try:
            sm.describe_endpoint(EndpointName=name)
        except sm.exceptions.ClientError:
            return answered
        time.sleep(0.05)


def invoke_load(emu: Emulator, name: str, quick: bool) -> dict:
    container = docker.from_env().containers.list(filters={"label": f"{LABEL}={name}"})[0]
    port = int(container.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
    body = b"x" * 1024
    sides = {
        "direct": (f"http://127.0.0.1:{port}", load.Prepared("POST", "/invocations", {
            "Content-Type": "application/octet-stream", "Accept": "application/octet-stream",
            "Content-Length": str(len(body))}, body)),
        "smlocal": (emu.url, load.prepare(emu.url, "sagemaker-runtime", "InvokeEndpoint", {
            "EndpointName": name, "Body": body, "ContentType": "application/octet-stream",
            "Accept": "application/octet-stream"}, emu.keys)),
    }
    seconds, rounds = (2.0, 1) if quick else (3.0, 3)
    gateway = psutil.Process(emu.process.pid)
    out: dict = {"seconds_per_run": seconds, "rounds": rounds, "payload_bytes": len(body)}
    for url, req in sides.values():
        load.measure(url, req, 1, 0.3)
    for clients in (1, 16):
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        cpu: list[float] = []
        kernel: list[float] = []
        for _ in range(rounds):
            for side, (url, req) in sides.items():
                before = gateway.cpu_times()
                runs[side].append(load.measure(url, req, clients, seconds))
                if side == "smlocal":
                    after, requests = gateway.cpu_times(), runs[side][-1]["requests"]
                    cpu.append((after.user + after.system - before.user - before.system) / requests * 1e6)
                    kernel.append((after.system - before.system) / requests * 1e6)
        row = {side: {key: summary([r[key] for r in got]) for key in ("rps", "p50_ms", "p99_ms")}
               | {"errors": sum(r["errors"] for r in got)} for side, got in runs.items()}
        row["gateway_cpu_us_per_request"] = summary(cpu)
        row["gateway_system_cpu_us_per_request"] = summary(kernel)   # the kernel's share (sockets, epoll)
        row["p50_added_ms"] = row["smlocal"]["p50_ms"]["median"] - row["direct"]["p50_ms"]["median"]
        row["throughput_ratio"] = ratio(row["smlocal"]["rps"]["median"], row["direct"]["rps"]["median"])
        out[str(clients)] = row
        print(f"  invoke x{clients}: direct {row['direct']['rps']['median']:.0f} req/s, smlocal "
              f"{row['smlocal']['rps']['median']:.0f} req/s ({row['throughput_ratio']:.0%}), p50 added "
              f"{row['p50_added_ms']:+.3f} ms", flush=True)
    return out


def run(emu: Emulator, peer_python: Path, quick: bool) -> dict:
    sm = emu.client()
    emu.s3().put_object(Bucket="bench", Key="model.tar.gz", Body=images.model_tarball())
    runs = 2 if quick else 5
    timings, deletes = [], []
    for i in range(runs):
        name = f"bench-ep-{i}"
        create_model(sm, name)
        timings.append(in_service(sm, name))
        if i == runs - 1:
            invoke = invoke_load(emu, name, quick)
        deletes.append(delete(sm, name))
    result = {"runs": runs,
              "create_to_in_service": summary([t["create_to_in_service_s"] for t in timings]),
              "in_service_after_first_ping": summary([t["after_first_ping_s"] for t in timings]),
              "delete_endpoint_answer": summary(deletes), "invoke": invoke}

    local_model = Path(tempfile.gettempdir()) / "smlocal-bench-model"  # local mode mounts file:// dirs as is
    local_model.mkdir(exist_ok=True)
    (local_model / "model.txt").write_text("bench-model\n")
    sdk_runs = 1 if quick else 2
    got: dict[str, dict[str, list[float]]] = {"smlocal": {}, "local": {}}
    since = time.time()
    for _ in range(sdk_runs):
        for side, env, data in (("smlocal", emu.env(), "s3://bench/model.tar.gz"),
                                ("local", None, f"file://{local_model}")):
            one = sdk(peer_python, ["deploy", "--target", side, "--image", images.SERVE, "--runs", "1",
                                    "--model-data", data, "--invokes", "100" if quick else "300"], env)
            for key, values in one.items():
                got[side].setdefault(key, []).extend(values)
    for side, label in (("smlocal", "sdk_smlocal"), ("local", "sdk_local_mode")):
        predict = sorted(got[side]["predict"])
        result[label] = {"deploy": summary(got[side]["deploy"]), "delete_endpoint": summary(got[side]["delete"]),
                         "predict_p50_ms": predict[len(predict) // 2] * 1000 if predict else float("nan")}
    result["local_mode_containers_left"] = local_mode_leftovers(images.SERVE, since)
    return result
