"""Issue 18, item 8: the embedded S3 server is supervised. Before, a dead weed left `smlocal up`
answering "already running" (exit 0) while every S3 call failed, and nothing restarted it."""

from __future__ import annotations

import json
import os
import signal
import time

import boto3
import pytest
from botocore.config import Config
from support import free_port, wait_for
from test_cli import exported, smlocal

from emulator.procs import pid_alive


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("supervised")
    port, s3_port = free_port(), free_port()
    up = smlocal("up", "--detach", "--no-build-images", "--port", str(port), "--s3-port", str(s3_port),
                 data_dir=data_dir)
    assert up.returncode == 0, up.stdout + up.stderr
    yield {"data_dir": data_dir, "port": port, "s3_port": s3_port}
    smlocal("down", data_dir=data_dir)


def _s3(instance):
    exports = exported(smlocal("env", data_dir=instance["data_dir"]).stdout)
    return boto3.client("s3", endpoint_url=exports["AWS_ENDPOINT_URL_S3"], region_name="us-east-1",
                        aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10))


def _kill_weed(instance) -> int:
    runtime = json.loads((instance["data_dir"] / "runtime.json").read_text())
    pid = runtime["s3_pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid


def test_up_repairs_a_half_dead_instance(instance):
    s3 = _s3(instance)
    s3.put_object(Bucket="sagemaker-us-east-1-123456789012", Key="kept.txt", Body=b"kept")
    dead = _kill_weed(instance)
    up = smlocal("up", "--detach", "--no-build-images", "--port", str(instance["port"]),
                 "--s3-port", str(instance["s3_port"]), data_dir=instance["data_dir"])
    assert up.returncode == 0, up.stdout + up.stderr
    # once `up` said so, S3 answers again, with everything it held
    assert s3.get_object(Bucket="sagemaker-us-east-1-123456789012", Key="kept.txt")["Body"].read() == b"kept"
    runtime = json.loads((instance["data_dir"] / "runtime.json").read_text())
    assert runtime["s3_pid"] != dead and pid_alive(runtime["s3_pid"]) and runtime["s3_restarts"] >= 1
    status = smlocal("status", data_dir=instance["data_dir"])
    assert status.returncode == 0 and "restarted" in status.stdout, status.stdout


def test_a_dead_s3_server_comes_back_on_its_own(instance):
    s3 = _s3(instance)
    before = json.loads((instance["data_dir"] / "runtime.json").read_text())["s3_restarts"]
    _kill_weed(instance)
    deadline = time.monotonic() + 60
    while True:
        try:
            s3.list_buckets()
            break
        except Exception:  # noqa: BLE001 - connection refused until weed is back
            assert time.monotonic() < deadline, "the S3 server did not come back within 60 s"
            time.sleep(0.5)
    # the supervisor records the restart just after the new server answers, so read until it has
    runtime = wait_for(lambda: json.loads((instance["data_dir"] / "runtime.json").read_text()),
                       "s3_restarts", {before + 1}, timeout=10)
    assert pid_alive(runtime["s3_pid"])
