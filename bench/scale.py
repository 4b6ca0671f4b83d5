"""Scale: many training jobs queued and several endpoints created at once; time to drain, control-plane
latency while busy, and that nothing is lost or leaked."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import docker
import psutil

from bench import endpoint, fds, images
from bench.emulator_proc import ROLE, Emulator
from bench.stats import percentile


def _schedstat() -> tuple[float, float]:
    """(seconds on a CPU, seconds in the run queue) of the calling thread (Linux)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
            run, wait, _ = f.read().split()
        return int(run) / 1e9, int(wait) / 1e9
    except OSError:
        return float("nan"), float("nan")


def _probe(sm, stop: threading.Event, latencies: list[float], calls: list[dict] | None = None) -> None:
    """ListTrainingJobs every 20 ms; ``calls`` also gets each call's start (perf_counter, which is
    CLOCK_MONOTONIC, comparable with the emulator process's) and the probe thread's own CPU and
    run-queue time during the call (the client's share of the latency)."""
    while not stop.is_set():
        r0, q0 = _schedstat()
        started = time.perf_counter()
        sm.list_training_jobs(MaxResults=10)
        latency = time.perf_counter() - started
        latencies.append(latency)
        if calls is not None:
            r1, q1 = _schedstat()
            calls.append({"t": started, "ms": latency * 1000, "cpu_ms": (r1 - r0) * 1000,
                          "runqueue_ms": (q1 - q0) * 1000})
        time.sleep(0.02)


def _managed() -> set[str]:
    """Ids of this benchmark's containers (other emulators on the machine have theirs)."""
    found = docker.from_env().api.containers(all=True, filters={"label": "org.smlocal.managed"})
    return {c["Id"] for c in found if any("scale-job-" in n or "scale-ep-" in n for n in c.get("Names", []))
            or any("scale-" in v for v in (c.get("Labels") or {}).values())}


def _statuses(sm, operation: str, key: str, status: str, prefix: str) -> dict[str, str]:
    """Name -> status of every listed resource whose name contains ``prefix`` (paged List* calls)."""
    name_key = status.removesuffix("Status") + "Name"   # TrainingJobStatus -> TrainingJobName
    found, token = {}, None
    while True:
        page = getattr(sm, operation)(NameContains=prefix, MaxResults=100, **({"NextToken": token} if token else {}))
        found.update((item[name_key], item[status]) for item in page[key])
        token = page.get("NextToken")
        if not token:
            return found


def _drain(sm, jobs: int, endpoints: int, started: float) -> tuple[dict[str, str], float | None, float | None]:
    """Poll (paged List* calls, as a console would) until every job has ended and every endpoint left
    Creating: (final statuses, seconds until the jobs were done, seconds until the endpoints were)."""
    job_names, ep_names = {f"scale-job-{i}" for i in range(jobs)}, {f"scale-ep-{i}" for i in range(endpoints)}
    statuses: dict[str, str] = {}
    jobs_done = eps_done = None
    while jobs_done is None or eps_done is None:
        if jobs_done is None:
            listed = _statuses(sm, "list_training_jobs", "TrainingJobSummaries", "TrainingJobStatus", "scale-job-")
            if all(listed.get(n, "InProgress") not in ("InProgress", "Stopping") for n in job_names):
                statuses.update((n, listed[n]) for n in job_names)
                jobs_done = time.perf_counter() - started
        if eps_done is None:
            listed = _statuses(sm, "list_endpoints", "Endpoints", "EndpointStatus", "scale-ep-")
            if all(listed.get(n, "Creating") != "Creating" for n in ep_names):
                statuses.update((n, listed[n]) for n in ep_names)
                eps_done = time.perf_counter() - started
        if time.perf_counter() - started > 1800:
            raise RuntimeError("not drained after 30 min")
        time.sleep(0.5)
    return statuses, jobs_done, eps_done


def run(emu: Emulator, quick: bool, calls: list[dict] | None = None) -> dict:
    jobs, endpoints = (50, 10) if quick else (500, 50)
    sm, probe_client = emu.client(), emu.client()
    before = _managed()
    proc = psutil.Process(emu.process.pid)
    ports = (urlsplit(emu.url).port or 80, urlsplit(emu.info.s3_endpoint).port or 80)
    threads_before = proc.num_threads()
    fds_before, kinds_before = fds.breakdown(emu.process.pid, *ports)
    own_before = fds.own(fds_before, kinds_before)
    for i in range(endpoints):
        endpoint.create_model(sm, f"scale-ep-{i}")
    latencies: list[float] = []
    stop = threading.Event()
    prober = threading.Thread(target=_probe, args=(probe_client, stop, latencies, calls), daemon=True)
    prober.start()
    started = time.perf_counter()
    for i in range(jobs):
        sm.create_training_job(
            TrainingJobName=f"scale-job-{i}", RoleArn=ROLE,
            AlgorithmSpecification={"TrainingImage": images.TRAIN, "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "s3://bench/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1})
    for i in range(endpoints):
        sm.create_endpoint(EndpointName=f"scale-ep-{i}", EndpointConfigName=f"scale-ep-{i}")
    statuses, jobs_done, eps_done = _drain(sm, jobs, endpoints, started)
    stop.set()
    prober.join()
    runtime = emu.client("sagemaker-runtime")
    invoked = 0
    for i in range(endpoints):
        body = runtime.invoke_endpoint(EndpointName=f"scale-ep-{i}", Body=b"ping",
                                       ContentType="application/octet-stream")["Body"].read()
        invoked += body.endswith(b"ping")
    for i in range(endpoints):
        sm.delete_endpoint(EndpointName=f"scale-ep-{i}")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _managed() - before:
        time.sleep(0.5)
    leaked = len(_managed() - before)
    fds_after = proc.num_fds()
    # idle pools (Docker engine, S3) may keep up to fds.POOLED connections; wait for the rest to close
    fds_settled, kinds_settled, settle_s = fds.settle(emu.process.pid, *ports, baseline=own_before)
    latencies.sort()
    listed = len(_statuses(sm, "list_training_jobs", "TrainingJobSummaries", "TrainingJobStatus", "scale-job-"))
    return {
        "jobs": jobs, "endpoints": endpoints,
        "jobs_drained_s": jobs_done, "endpoints_in_service_s": eps_done,
        "completed": sum(statuses.get(f"scale-job-{i}") == "Completed" for i in range(jobs)),
        "in_service": sum(statuses.get(f"scale-ep-{i}") == "InService" for i in range(endpoints)),
        "invoked_ok": invoked, "jobs_listed": listed,
        "busy_list_latency_ms": {"p50": percentile(latencies, 0.5) * 1000, "p99": percentile(latencies, 0.99) * 1000,
                                 "max": latencies[-1] * 1000 if latencies else float("nan"),
                                 "samples": len(latencies)},
        "containers_leaked": leaked,
        "threads_before_after": [threads_before, proc.num_threads()],
        "fds_before_after": [fds_before, fds_after],
        # the emulator's own fds (without the benchmark's keep-alive connections to the gateway)
        "fds_own_before_settled": [own_before, fds_settled], "fds_settle_s": settle_s, "fds_pooled_bound": fds.POOLED,
        "fds_returned_to_baseline": fds_settled <= own_before + fds.POOLED,
        "fds_by_kind_before_settled": {k: [kinds_before.get(k, 0), kinds_settled.get(k, 0)]
                                       for k in sorted(set(kinds_before) | set(kinds_settled))},
    }
