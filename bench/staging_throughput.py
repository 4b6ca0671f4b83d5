"""Throughput of emulator.infra.staging against boto3, on a private embedded SeaweedFS.

    python bench/staging_throughput.py                        # 200 x 1 MiB and 4 x 64 MiB
    python bench/staging_throughput.py --objects 50 --size 8MiB --workers 4 --repeat 5
    python bench/staging_throughput.py --tarball 200MiB       # upload_tarball: pipe vs temp file

Download: ``staging.download`` vs boto3 ``s3.download_file`` in a ThreadPoolExecutor with the
same worker count (boto3's own defaults otherwise: 8 MB multipart threshold, 10 threads per file).
Runs alternate between the two and the best of ``--repeat`` is reported, which irons out page
cache and SeaweedFS warm-up noise on small machines.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.config import S3Settings
from emulator.infra import staging, uploads
from emulator.s3.client import S3Client
from emulator.s3.embedded import EmbeddedS3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port

ACCESS, SECRET = "AKIASMLOCALBENCH0001", "smlocal-bench-secret-0123456789"
BUCKET = "bench"
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 10**6, "mb": 10**6, "mib": 1024**2,
          "g": 10**9, "gb": 10**9, "gib": 1024**3}


def parse_size(text: str) -> int:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in _UNITS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 1MiB or 64MiB")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def best_of(repeat: int, runs: dict[str, Callable[[], None]]) -> dict[str, float]:
    """Best wall time (seconds) of each run, alternating between them."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


def download_case(s3: S3Client, boto, scratch: Path, count: int, size: int, workers: int, repeat: int) -> float:
    prefix = f"dl-{count}x{size}/"
    body = os.urandom(size)
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda i: boto.put_object(Bucket=BUCKET, Key=f"{prefix}{i:05d}", Body=body), range(count)))
    objects = staging.list_objects(s3, "S3Prefix", f"s3://{BUCKET}/{prefix}")
    dest = scratch / "dest"

    def fresh() -> Path:
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir()
        return dest

    def with_boto() -> None:
        out = fresh()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda o: boto.download_file(BUCKET, o.key, str(out / o.relative_path)), objects))

    def with_staging() -> None:
        staging.download(s3, objects, fresh(), workers=workers)

    fresh()
    with_boto()                                    # warm-up: SeaweedFS caches, connection pools
    with_staging()
    best = best_of(repeat, {"boto3": with_boto, "staging": with_staging})
    total = count * size
    rates = {name: total / seconds / 1e6 for name, seconds in best.items()}
    ratio = rates["staging"] / rates["boto3"]
    print(f"download {count} x {size / 2**20:g} MiB ({staging.human_size(total)}), {workers} workers: "
          f"boto3 {rates['boto3']:.1f} MB/s, staging {rates['staging']:.1f} MB/s, ratio {ratio:.2f}", flush=True)
    shutil.rmtree(dest, ignore_errors=True)
    return ratio


def tarball_case(s3: S3Client, scratch: Path, total: int, repeat: int) -> None:
    """upload_tarball (pipe) vs tar.gz to a temp file next to the sources + fput_object."""
    src = scratch / "model"
    src.mkdir()
    half = total // 2
    (src / "weights.bin").write_bytes(os.urandom(half))                      # incompressible
    text = b"".join(b"%d,%f,label-%d\n" % (i, i / 7, i % 13) for i in range(200_000))
    (src / "table.csv").write_bytes((text * (half // len(text) + 1))[:half])  # compressible
    members = uploads._tar_members([src])

    def pipe() -> None:
        uploads.upload_tarball(s3, [src], f"s3://{BUCKET}/tar/pipe.tar.gz")

    def tempfile_then_upload() -> None:
        tmp = scratch / "model.tar.gz.tmp"
        with open(tmp, "wb") as out:
            uploads._write_tarball(members, out)
        s3.raw.fput_object(BUCKET, "tar/file.tar.gz", str(tmp), part_size=staging.PART_SIZE)
        tmp.unlink()

    best = best_of(repeat, {"pipe": pipe, "tempfile": tempfile_then_upload})
    print(f"upload_tarball {total / 2**20:g} MiB: pipe {best['pipe']:.2f} s, "
          f"temp file {best['tempfile']:.2f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, help="number of objects (default: run 200 x 1MiB and 4 x 64MiB)")
    parser.add_argument("--size", type=parse_size, help="object size, e.g. 1MiB")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tarball", type=parse_size, metavar="SIZE", help="also time upload_tarball on SIZE of data")
    args = parser.parse_args()
    if (args.objects is None) != (args.size is None):
        parser.error("give both --objects and --size, or neither")
    cases = [(args.objects, args.size)] if args.objects else [(200, 1024**2), (4, 64 * 1024**2)]

    scratch = Path(tempfile.mkdtemp(prefix="smlocal-bench-"))
    server = EmbeddedS3(scratch / "s3", free_port(), ACCESS, SECRET, log_file=scratch / "weed.log")
    try:
        server.start()
        s3 = S3Client(S3Settings(server.endpoint, ACCESS, SECRET))
        boto = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS, aws_secret_access_key=SECRET,
                            config=Config(s3={"addressing_style": "path"}, max_pool_connections=4 * args.workers))
        boto.create_bucket(Bucket=BUCKET)
        ratios = [download_case(s3, boto, scratch, count, size, args.workers, args.repeat) for count, size in cases]
        if args.tarball:
            tarball_case(s3, scratch, args.tarball, args.repeat)
        print(f"worst staging/boto3 ratio: {min(ratios):.2f}")
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
