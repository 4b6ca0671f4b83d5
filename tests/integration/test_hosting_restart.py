"""Endpoints survive the emulator: a killed gateway reattaches to running containers; after
`smlocal down` (which stops them) `smlocal up` starts them again. Real CLI processes."""

from __future__ import annotations

import json
import os
import signal
import time

import boto3
import docker
import pytest
from hosting_support import deploy
from support import free_port
from test_cli import exported, smlocal

from emulator.procs import pid_alive

pytestmark = pytest.mark.docker


def containers(name: str) -> list[str]:
    return [c.id for c in docker.from_env().containers.list(
        all=True, filters={"label": ["org.smlocal.kind=endpoint", f"org.smlocal.endpoint={name}"]})]


def test_endpoints_keep_serving_across_restarts(tmp_path, serve_image):
    port, s3_port = free_port(), free_port()
    name = f"survivor-{os.getpid()}"

    def up() -> None:
        started = smlocal("up", "--detach", "--port", str(port), "--s3-port", str(s3_port), data_dir=tmp_path)
        assert started.returncode == 0, started.stdout + started.stderr

    up()
    try:
        exports = exported(smlocal("env", data_dir=tmp_path).stdout)
        clients = {s: boto3.client(s, endpoint_url=exports["AWS_ENDPOINT_URL"], region_name="us-east-1",
                                   aws_access_key_id=exports["AWS_ACCESS_KEY_ID"],
                                   aws_secret_access_key=exports["AWS_SECRET_ACCESS_KEY"])
                   for s in ("sagemaker", "sagemaker-runtime")}
        sm, runtime = clients["sagemaker"], clients["sagemaker-runtime"]
        assert deploy(sm, name, serve_image, env={"TAG": "alive"})["EndpointStatus"] == "InService"
        first = containers(name)
        assert runtime.invoke_endpoint(EndpointName=name, Body=b"1")["Body"].read() == b"alive:1"

        pid = json.loads((tmp_path / "runtime.json").read_text())["pid"]
        os.kill(pid, signal.SIGKILL)            # no clean shutdown at all
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        up()
        assert runtime.invoke_endpoint(EndpointName=name, Body=b"2")["Body"].read() == b"alive:2"
        assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
        assert containers(name) == first        # reattached, not restarted

        down = smlocal("down", data_dir=tmp_path)
        assert "stopped 1 endpoint container(s)" in down.stdout, down.stdout + down.stderr
        assert containers(name) == []
        up()
        assert runtime.invoke_endpoint(EndpointName=name, Body=b"3")["Body"].read() == b"alive:3"
        assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
        again = containers(name)
        assert len(again) == 1 and again != first
        sm.delete_endpoint(EndpointName=name)
        sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        assert containers(name) == []
    finally:
        smlocal("down", data_dir=tmp_path)
