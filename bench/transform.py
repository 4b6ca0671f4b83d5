"""Batch transform throughput: records per second through a transform job against sending the same
mini-batches straight to a container of the same image.

The model is the test serving image in its batch mode (``LINES=1``: one answer line per input line).
For each case (BatchStrategy MultiRecord, MaxPayloadInMB, MaxConcurrentTransforms), alternating in
one run:

- **direct:** the objects are cut into the very mini-batches the job sends (the job's own splitter and
  batcher, not timed), then POSTed over keep-alive connections to a container of the same image,
  ``concurrency`` requests in flight, answers taken in order and checked;
- **job:** ``CreateTransformJob`` through boto3 (1 instance); the data phase is timed from the job's
  ``data-log`` stream (its first line, written after ``/ping`` and ``/execution-parameters``, to the
  last object's upload line), so it covers reading from S3, splitting, the invocations, writing the
  answers and uploading the ``.out`` objects. "whole job" is CreationTime to TransformEndTime.
"""

from __future__ import annotations

import concurrent.futures as cf
import http.client
import time

import docker

from bench import images
from bench.common import free_port
from bench.emulator_proc import ROLE, Emulator
from bench.stats import summary
from emulator.jobs.transform_records import batches, records  # the job's own batcher

BUCKET = "bench"
PREFIX = "transform-in"
MODEL = "bench-transform"
ENV = {"LINES": "1"}
CASES = [("MultiRecord", 1, 1), ("MultiRecord", 1, 2)]     # strategy, MaxPayloadInMB, MaxConcurrentTransforms


def dataset(total: int, objects: int) -> list[bytes]:
    per = total // objects
    return [("".join(f"{i},{i % 97},{i % 13}\n" for i in range(o * per, (o + 1) * per))).encode()
            for o in range(objects)]


def direct(port: int, bodies: list[bytes], strategy: str, payload: int, concurrency: int) -> float:
    """Records per second sending each object's mini-batches, objects one after the other as one instance
    does, ``concurrency`` requests in flight."""
    mini = [[batch.body for batch in batches(records([body], "Line", "None"), strategy, payload)] for body in bodies]
    count = sum(body.count(b"\n") for body in bodies)
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=600) for _ in range(concurrency)]
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}

    def send(slot: int, data: bytes) -> bytes:
        conn = connections[slot]
        conn.request("POST", "/invocations", data, headers)
        response = conn.getresponse()
        answer = response.read()
        if response.status != 200 or answer.count(b"\n") != data.count(b"\n"):
            raise RuntimeError(f"direct: {response.status} {answer[:200]!r}")
        return answer

    started = time.perf_counter()
    with cf.ThreadPoolExecutor(concurrency) as pool:
        for object_batches in mini:
            for start in range(0, len(object_batches), concurrency):   # answers taken in order
                group = object_batches[start:start + concurrency]
                list(pool.map(send, range(len(group)), group))
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return count / elapsed


def job(sm, logs, name: str, strategy: str, payload: int, concurrency: int, count: int) -> tuple[float, float]:
    """(records per second in the data phase, whole job seconds)."""
    sm.create_transform_job(
        TransformJobName=name, ModelName=MODEL, BatchStrategy=strategy, MaxPayloadInMB=payload,
        MaxConcurrentTransforms=concurrency,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                        "S3Uri": f"s3://{BUCKET}/{PREFIX}/"}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/transform-out/{name}/", "Accept": "text/csv",
                         "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    while (found := sm.describe_transform_job(TransformJobName=name))["TransformJobStatus"] == "InProgress":
        time.sleep(0.25)
    if found["TransformJobStatus"] != "Completed":
        raise RuntimeError(f"{name}: {found['TransformJobStatus']}: {found.get('FailureReason')}")
    whole = (found["TransformEndTime"] - found["CreationTime"]).total_seconds()
    group = "/aws/sagemaker/TransformJobs"
    stream = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=name)[
        "logStreams"] if s["logStreamName"].endswith("/data-log")][0]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    return count / ((events[-1]["timestamp"] - events[0]["timestamp"]) / 1000), whole


def _wait_ping(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the direct container did not answer /ping")


def run(emu: Emulator, quick: bool) -> dict:
    total, objects, rounds = (400_000, 4, 2) if quick else (1_000_000, 4, 3)
    sm, logs, s3 = emu.client(), emu.client("logs"), emu.s3()
    bodies = dataset(total, objects)
    count = sum(body.count(b"\n") for body in bodies)
    for index, body in enumerate(bodies):
        s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/part-{index}.csv", Body=body)
    sm.create_model(ModelName=MODEL, PrimaryContainer={"Image": images.SERVE, "Environment": ENV},
                    ExecutionRoleArn=ROLE)
    port = free_port()
    container = docker.from_env().containers.run(images.SERVE, "serve", detach=True, environment=ENV,
                                                 ports={"8080/tcp": ("127.0.0.1", port)})
    result: dict = {"records": count, "megabytes": sum(map(len, bodies)) / 1e6, "objects": objects,
                    "rounds": rounds, "cases": {}}
    try:
        _wait_ping(port)
        for strategy, payload, concurrency in CASES:
            direct_rates, job_rates, wholes = [], [], []
            for round_ in range(rounds):      # alternating; the best of each side is compared
                direct_rates.append(direct(port, bodies, strategy, payload, concurrency))
                rate, whole = job(sm, logs, f"bench-transform-{concurrency}-{round_}-{int(time.time())}", strategy,
                                  payload, concurrency, count)
                job_rates.append(rate)
                wholes.append(whole)
            result["cases"][f"{strategy}:{payload}:{concurrency}"] = {
                "strategy": strategy, "payload_mb": payload, "concurrency": concurrency,
                "direct_rps": summary(direct_rates), "job_rps": summary(job_rates), "whole_job_s": summary(wholes),
                "ratio": max(job_rates) / max(direct_rates)}
    finally:
        container.remove(force=True)
    return result
