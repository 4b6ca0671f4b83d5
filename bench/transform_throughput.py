"""Records per second through a batch transform job, against sending the same mini-batches straight
to the inference container.

    python bench/transform_throughput.py [--records 2000000] [--objects 4] [--rounds 2]
                                         [--cases MultiRecord:1:2,MultiRecord:1:1,SingleRecord:1:4]

A CSV dataset (``--records`` rows over ``--objects`` objects) is put in S3. The model is the test
serving image in its batch mode (``LINES=1``: one answer line per input line). For each case
(BatchStrategy, MaxConcurrentTransforms) and in alternating rounds, in one run:

- **direct**: the objects are read and cut into the very mini-batches the job sends (same splitter
  and batcher, not timed), then POSTed over keep-alive connections to a container of the same image,
  ``concurrency`` requests in flight, answers checked;
- **transform job**: CreateTransformJob through boto3; the data phase is timed from the job's
  ``data-log`` stream (first line, written after /ping and /execution-parameters, to the last
  object's upload), so it covers S3 reads, splitting, invocations, assembly and S3 uploads; the whole
  job (Create to Completed, container start and stop included) is printed too.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import http.client
import sys
import time
from pathlib import Path

import boto3
import docker

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import free_port, stack  # noqa: E402
from invoke_overhead import IMAGE, build_image  # noqa: E402

from emulator.jobs.transform_records import batches, records  # noqa: E402 - the job's own batcher

BUCKET = "bench-transform"
ENV = {"LINES": "1"}
SINGLE_RECORDS = 20_000
CASES = [("MultiRecord", 1, 2), ("MultiRecord", 1, 1), ("SingleRecord", 1, 4)]   # strategy, payload MB, concurrency


def dataset(total: int, objects: int) -> list[bytes]:
    per = total // objects
    return [("".join(f"{i},{i % 97},{i % 13}\n" for i in range(o * per, (o + 1) * per))).encode()
            for o in range(objects)]


def direct(port: int, bodies: list[bytes], strategy: str, payload: int, concurrency: int) -> float:
    """Records per second sending each object's mini-batches, objects one after the other as one
    instance does, ``concurrency`` requests in flight."""
    mini = [[batch.body for batch in batches(records([body], "Line", "None"), strategy, payload)]
            for body in bodies]
    count = sum(body.count(b"\n") for body in bodies)
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=600) for _ in range(concurrency)]
    headers = {"Content-Type": "text/csv", "Accept": "text/csv"}

    def send(slot: int, data: bytes) -> bytes:
        conn = connections[slot]
        conn.request("POST", "/invocations", data, headers)
        response = conn.getresponse()
        answer = response.read()
        assert response.status == 200 and answer.count(b"\n") == data.count(b"\n"), answer[:200]
        return answer

    started = time.perf_counter()
    with cf.ThreadPoolExecutor(concurrency) as pool:
        for object_batches in mini:
            # in flight: up to `concurrency`; answers are taken in order, as the job writes them
            for start in range(0, len(object_batches), concurrency):
                group = object_batches[start:start + concurrency]
                list(pool.map(send, range(len(group)), group))
    elapsed = time.perf_counter() - started
    for conn in connections:
        conn.close()
    return count / elapsed


def transform(sm, logs, name: str, source: str, strategy: str, payload: int, concurrency: int, count: int
              ) -> tuple[float, float]:
    sm.create_transform_job(
        TransformJobName=name, ModelName="bench-transform", BatchStrategy=strategy, MaxPayloadInMB=payload,
        MaxConcurrentTransforms=concurrency,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/out/{name}/", "Accept": "text/csv", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    # the gateway runs in this process: poll slowly so the client does not compete with it for the GIL
    while (job := sm.describe_transform_job(TransformJobName=name))["TransformJobStatus"] == "InProgress":
        time.sleep(1)
    whole = (job["TransformEndTime"] - job["CreationTime"]).total_seconds()
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    group = "/aws/sagemaker/TransformJobs"
    stream = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=name)[
        "logStreams"] if s["logStreamName"].endswith("/data-log")][0]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    data_seconds = (events[-1]["timestamp"] - events[0]["timestamp"]) / 1000
    return count / data_seconds, whole


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--objects", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds; the best of each side is kept")
    parser.add_argument("--cases", default=",".join(f"{s}:{p}:{c}" for s, p, c in CASES),
                        help="BatchStrategy:MaxPayloadInMB:MaxConcurrentTransforms,...")
    args = parser.parse_args()
    cases = [(s, int(p), int(c)) for s, p, c in (case.split(":") for case in args.cases.split(","))]
    build_image()
    bodies = dataset(args.records, args.objects)
    count = sum(body.count(b"\n") for body in bodies)
    port = free_port()
    container = docker.from_env().containers.run(IMAGE, "serve", detach=True, environment=ENV,
                                                 ports={"8080/tcp": ("127.0.0.1", port)})
    try:
        with stack() as (url, s3_settings):
            kwargs = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id=s3_settings.access_key,
                          aws_secret_access_key=s3_settings.secret_key)
            sm, logs, s3 = (boto3.client(n, **kwargs) for n in ("sagemaker", "logs", "s3"))
            s3.create_bucket(Bucket=BUCKET)
            small = _subset(bodies, min(count, SINGLE_RECORDS))
            for prefix, objects in (("full", bodies), ("small", small)):
                for index, body in enumerate(objects):
                    s3.put_object(Bucket=BUCKET, Key=f"in/{prefix}/part-{index}.csv", Body=body)
            sm.create_model(ModelName="bench-transform", PrimaryContainer={"Image": IMAGE, "Environment": ENV},
                            ExecutionRoleArn="arn:aws:iam::123456789012:role/R")
            _wait_ping(port)
            print(f"{count} records ({sum(map(len, bodies)) / 1e6:.1f} MB) in {len(bodies)} objects, "
                  f"best of {args.rounds} rounds")
            print("| BatchStrategy | MaxPayloadInMB | MaxConcurrentTransforms | direct rec/s | job rec/s (data phase) "
                  "| job / direct | whole job |")
            print("|---|---|---|---|---|---|---|")
            for strategy, payload, concurrency in cases:
                # SingleRecord sends one request per record: a smaller dataset keeps the run short
                prefix, objects = ("full", bodies) if strategy == "MultiRecord" else ("small", small)
                total = sum(body.count(b"\n") for body in objects)
                best_direct, best_job, whole = 0.0, 0.0, 0.0
                for round_ in range(args.rounds):
                    best_direct = max(best_direct, direct(port, objects, strategy, payload, concurrency))
                    name = f"bench-{strategy.lower()}-{concurrency}-{round_}-{int(time.time())}"
                    rate, seconds = transform(sm, logs, name, f"s3://{BUCKET}/in/{prefix}/", strategy, payload,
                                              concurrency, total)
                    if rate > best_job:
                        best_job, whole = rate, seconds
                print(f"| {strategy} | {payload} | {concurrency} | {best_direct:,.0f} | {best_job:,.0f} | "
                      f"{best_job / best_direct:.0%} | {whole:.1f} s |")
    finally:
        container.remove(force=True)


def _subset(bodies: list[bytes], total: int) -> list[bytes]:
    per = total // len(bodies)
    return [b"".join(body.splitlines(keepends=True)[:per]) for body in bodies]


def _wait_ping(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/ping")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the direct container did not answer /ping")


if __name__ == "__main__":
    main()
