"""Data staging: a 1 GiB channel (many small objects, and one large object) staged into a training
job, against a parallel boto3 download of the same objects; the emulator's peak memory meanwhile."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from boto3.s3.transfer import TransferConfig

from bench import images
from bench.emulator_proc import ROLE, Emulator, PeakRss
from bench.stats import ratio, summary

WORKERS = 8


def _seconds(value) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def downloading_phase(sm, name: str, prefix: str | None) -> float:
    """Create a job, wait for it, return how long its Downloading phase lasted."""
    channel = [{"ChannelName": "train", "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": f"s3://bench/{prefix}"}}}] if prefix else []
    sm.create_training_job(
        TrainingJobName=name, RoleArn=ROLE,
        AlgorithmSpecification={"TrainingImage": images.TRAIN, "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://bench/output"}, **({"InputDataConfig": channel} if channel else {}),
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10})
    while (job := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
        time.sleep(0.05)
    if job["TrainingJobStatus"] != "Completed":
        raise RuntimeError(f"{name}: {job.get('FailureReason')}")
    phase = next(t for t in job["SecondaryStatusTransitions"] if t["Status"] == "Downloading")
    return _seconds(phase["EndTime"]) - _seconds(phase["StartTime"])


def boto3_download(s3, keys: list[str], dest: Path) -> float:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    config = TransferConfig(max_concurrency=WORKERS)
    started = time.perf_counter()
    if len(keys) == 1:
        s3.download_file("bench", keys[0], str(dest / "object"), Config=config)
    else:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda k: s3.download_file("bench", k, str(dest / k.replace("/", "_"))), keys))
    elapsed = time.perf_counter() - started
    shutil.rmtree(dest, ignore_errors=True)
    return elapsed


def upload(s3, prefix: str, count: int, size: int) -> list[str]:
    body = os.urandom(min(size, 64 * 2**20))
    keys = [f"{prefix}{i:05d}" for i in range(count)]
    if count == 1:
        with tempfile.NamedTemporaryFile() as tmp:
            for _ in range(size // len(body)):
                tmp.write(body)
            tmp.flush()
            s3.upload_file(tmp.name, "bench", keys[0], Config=TransferConfig(max_concurrency=WORKERS))
    else:
        with ThreadPoolExecutor(WORKERS) as pool:
            list(pool.map(lambda k: s3.put_object(Bucket="bench", Key=k, Body=body), keys))
    return keys


def run(emu: Emulator, quick: bool) -> dict:
    sm, s3 = emu.client(), emu.s3()
    total = 256 * 2**20 if quick else 2**30
    runs = 2 if quick else 3
    cases = {"small_files": (total // 2**20, 2**20), "one_large_file": (1, total)}
    scratch = Path(tempfile.mkdtemp(prefix="smlocal-bench-dl-"))
    empty = [downloading_phase(sm, f"stage-empty-{i}", None) for i in range(3)]
    base = summary(empty)["median"]
    result: dict = {"bytes": total, "workers": WORKERS, "runs": runs, "empty_downloading_phase": summary(empty),
                    "cases": {}}
    rss_before = PeakRss(emu.process.pid).baseline
    peak = 0
    try:
        for case, (count, size) in cases.items():
            prefix = f"stage-{case}/"
            keys = upload(s3, prefix, count, size)
            boto, staged = [], []
            for i in range(runs):
                boto.append(boto3_download(s3, keys, scratch / "boto3"))
                with PeakRss(emu.process.pid) as rss:
                    staged.append(downloading_phase(sm, f"stage-{case.replace('_', '-')}-{i}", prefix) - base)
                peak = max(peak, rss.peak)
            row = {"count": count, "object_bytes": size, "boto3_s": summary(boto), "staging_s": summary(staged)}
            row["boto3_mb_s"] = total / row["boto3_s"]["median"] / 1e6
            row["staging_mb_s"] = total / row["staging_s"]["median"] / 1e6
            row["throughput_ratio"] = ratio(row["staging_mb_s"], row["boto3_mb_s"])
            result["cases"][case] = row
            print(f"  staging {case}: boto3 {row['boto3_mb_s']:.0f} MB/s, job {row['staging_mb_s']:.0f} MB/s "
                  f"({row['throughput_ratio']:.0%})", flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    result["rss_before_mb"] = rss_before / 2**20
    result["rss_peak_mb"] = peak / 2**20
    return result
