"""Issue 18, item 4: EnableNetworkIsolation for training and processing jobs, in real containers.

Before: the containers got the S3 keys and endpoint, and the S3 bridge relay (on the host's Docker
bridge address) answered from the job's internal network. Now: no credentials in the environment, no
route to S3, the host, the gateway or anywhere else; the job's hosts still reach each other; smlocal
still stages the inputs in and the outputs out."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from support import free_port, fresh_spares
from test_training import channel, request, tarball, wait

from emulator.s3.bridge import docker_bridge_gateway

pytestmark = pytest.mark.docker

PROBE = r"""
import json, os, socket, sys, time
out = sys.argv[1]
targets = json.loads(os.environ["PROBE_TARGETS"])
def gateway():
    for line in open("/proc/net/route").read().splitlines()[1:]:
        fields = line.split()
        if fields[1] == "00000000":
            raw = bytes.fromhex(fields[2])[::-1]
            return socket.inet_ntoa(raw)
    return None
gw = gateway()
routes_at_start = open("/proc/net/route").read()
if gw:
    targets += [[gw, p] for p in {t[1] for t in targets}]
# REACHED only for a connected socket. A connect can also "succeed" on a socket the kernel closed while
# connecting with no error left to report (TCP state CLOSE, getpeername ENOTCONN; seen when the gateway's
# ARP resolution failed just after a timed-out connect; no frame left the container): that outcome is
# retried (the test fails if it is still the outcome after three tries) and reported.
def attempt(host, port):
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=3)
    except Exception as exc:
        return type(exc).__name__, [round(time.monotonic() - started, 3), repr(exc)]
    facts = [round(time.monotonic() - started, 3), sock.getsockname(),
             "tcp state %d" % sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]]
    try:
        facts.append(sock.getpeername())
        outcome = "REACHED"
    except OSError as exc:
        facts.append("getpeername: " + repr(exc))
        outcome = "closed while connecting"
    sock.close()
    return outcome, facts
reached, detail = {}, {}
for host, port in targets:
    key, tries = f"{host}:{port}", []
    for _ in range(3):
        outcome, facts = attempt(host, port)
        tries.append(facts)
        if outcome != "closed while connecting":
            break
    reached[key], detail[key] = outcome, tries
env = {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "S3_"))}
peer = None
config = "/opt/ml/input/config/resourceconfig.json"
if os.path.exists(config):          # training: algo-1 listens, algo-2 calls it
    rc = json.load(open(config))
    if len(rc["hosts"]) > 1:
        if rc["current_host"] == "algo-1":
            server = socket.create_server(("0.0.0.0", 7777))
            server.settimeout(60)
            conn, _ = server.accept(); conn.sendall(b"hello from algo-1"); conn.close()
            peer = "served"
        else:
            for _ in range(100):
                try:
                    peer = socket.create_connection(("algo-1", 7777), timeout=3).recv(100).decode(); break
                except OSError:
                    time.sleep(0.2)
inputs = {}
for base, _, files in os.walk(sys.argv[2]):
    for name in files:
        if name.endswith(".csv"):
            inputs[name] = open(os.path.join(base, name)).read()
os.makedirs(out, exist_ok=True)
routes = {"start": routes_at_start, "end": open("/proc/net/route").read(), "arp": open("/proc/net/arp").read(),
          "interfaces": sorted(os.listdir("/sys/class/net"))}
json.dump({"env": env, "reached": reached, "detail": detail, "peer": peer, "inputs": inputs, "routes": routes},
          open(os.path.join(out, "probe-" + socket.gethostname() + ".json"), "w"))
"""


def _targets(jobs_gateway, bridge_relay) -> list:
    bridge = docker_bridge_gateway() or "172.17.0.1"
    return [[bridge, bridge_relay.listen_port], [bridge, jobs_gateway.port], ["host.docker.internal",
            bridge_relay.listen_port], ["8.8.8.8", 53], ["1.1.1.1", 443]]


def _assert_sealed(probe: dict) -> None:
    assert probe["env"].keys() <= {"AWS_REGION", "AWS_DEFAULT_REGION"}, probe["env"]
    retried = {key: tries for key, tries in probe["detail"].items() if len(tries) > 1}
    if retried:
        print("probe retried a socket closed while connecting:", json.dumps(retried))
    if {"REACHED", "closed while connecting"} & set(probe["reached"].values()):
        pytest.fail("a sealed container reached a target: " + json.dumps(
            {k: probe.get(k) for k in ("reached", "detail", "routes")}, indent=1))


def test_the_probe_tells_a_connection_from_a_refusal(tmp_path):
    """The positive control, on the host: the probe counts a listening port as REACHED (connected, with a
    peer) and a closed one as refused, so a sealed job's probe that reaches nothing means something."""
    listening = socket.create_server(("127.0.0.1", 0))
    closed = free_port()
    (tmp_path / "probe.py").write_text(PROBE)
    targets = [["127.0.0.1", listening.getsockname()[1]], ["127.0.0.1", closed]]
    subprocess.run([sys.executable, str(tmp_path / "probe.py"), str(tmp_path / "out"), str(tmp_path)], check=True,
                   timeout=120, env={**os.environ, "PROBE_TARGETS": json.dumps(targets)})
    listening.close()
    (found,) = (tmp_path / "out").iterdir()
    reached = json.loads(found.read_text())["reached"]
    assert reached[f"127.0.0.1:{targets[0][1]}"] == "REACHED"
    assert reached[f"127.0.0.1:{closed}"] == "ConnectionRefusedError"


def test_isolated_training_has_no_credentials_and_no_route_out(jobs_gateway, s3, bucket, base_image, bridge_relay,
                                                                unique):
    _isolated_training(jobs_gateway, s3, bucket, base_image, bridge_relay, unique)


def test_isolated_training_on_a_spare_network_is_as_sealed(jobs_gateway, s3, bucket, base_image, bridge_relay,
                                                           unique):
    """A network the job takes from the pool (jobs/network_pool.py) is as sealed as one it creates, and
    its hosts find each other by their aliases on it."""
    import time

    import docker

    spares = fresh_spares(jobs_gateway.emulator.jobs.networks, internal=True, host_access=False)
    client = docker.from_env()
    for name in spares:
        attrs = client.networks.get(name).attrs
        assert attrs["Internal"] is True
        assert attrs["Options"].get("com.docker.network.bridge.inhibit_ipv4") == "true"
    _isolated_training(jobs_gateway, s3, bucket, base_image, bridge_relay, unique)
    deadline = time.monotonic() + 30   # the job took one spare and removes it after its last status
    while len({n.name for n in client.networks.list(names=spares) if n.name in spares}) != 1:
        assert time.monotonic() < deadline, spares
        time.sleep(0.2)
    assert not client.networks.list(names=[f"smlocal-train-{unique}"])


def _isolated_training(jobs_gateway, s3, bucket, base_image, bridge_relay, unique) -> None:
    sm = jobs_gateway.client("sagemaker")
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/data.csv", Body=b"1,2,3")
    s3.put_object(Bucket=bucket, Key=f"{unique}/code/probe.py", Body=PROBE.encode())
    body = request(unique, base_image, bucket, EnableNetworkIsolation=True,
                   Environment={"PROBE_TARGETS": json.dumps(_targets(jobs_gateway, bridge_relay))},
                   ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 5},
                   InputDataConfig=[channel("train", f"s3://{bucket}/{unique}/in/"),
                                    channel("code", f"s3://{bucket}/{unique}/code/")])
    body["AlgorithmSpecification"].update(ContainerEntrypoint=[
        "python3", "/opt/ml/input/data/code/probe.py", "/opt/ml/model", "/opt/ml/input/data"])
    sm.create_training_job(**body)
    job = wait(sm, unique, timeout=180)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    files = tarball(s3, job["ModelArtifacts"]["S3ModelArtifacts"])      # staged out by smlocal
    probes = {name: json.loads(data) for name, data in files.items() if name.startswith("probe-")}
    assert sorted(probes) == ["probe-algo-1.json", "probe-algo-2.json"]
    for probe in probes.values():
        _assert_sealed(probe)
        assert probe["inputs"] == {"data.csv": "1,2,3"}                      # staged in by smlocal
    assert probes["probe-algo-2.json"]["peer"] == "hello from algo-1"      # the job's hosts still talk


def test_isolated_processing_has_no_credentials_and_no_route_out(jobs_gateway, s3, bucket, base_image, bridge_relay,
                                                                  unique):
    sm = jobs_gateway.client("sagemaker")
    s3.put_object(Bucket=bucket, Key=f"{unique}/in/data.csv", Body=b"4,5,6")
    s3.put_object(Bucket=bucket, Key=f"{unique}/code/probe.py", Body=PROBE.encode())
    sm.create_processing_job(
        ProcessingJobName=unique, RoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
        AppSpecification={"ImageUri": base_image, "ContainerEntrypoint": [
            "python3", "/opt/ml/processing/code/probe.py", "/opt/ml/processing/out", "/opt/ml/processing/in"]},
        Environment={"PROBE_TARGETS": json.dumps(_targets(jobs_gateway, bridge_relay))},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 5}},
        ProcessingInputs=[{"InputName": "in", "S3Input": {
            "S3Uri": f"s3://{bucket}/{unique}/in/", "LocalPath": "/opt/ml/processing/in", "S3DataType": "S3Prefix",
            "S3InputMode": "File"}}, {"InputName": "code", "S3Input": {
            "S3Uri": f"s3://{bucket}/{unique}/code/", "LocalPath": "/opt/ml/processing/code", "S3DataType": "S3Prefix",
            "S3InputMode": "File"}}],
        ProcessingOutputConfig={"Outputs": [{"OutputName": "out", "S3Output": {
            "S3Uri": f"s3://{bucket}/{unique}/out/", "LocalPath": "/opt/ml/processing/out",
            "S3UploadMode": "EndOfJob"}}]},
        NetworkConfig={"EnableNetworkIsolation": True},
        StoppingCondition={"MaxRuntimeInSeconds": 300})
    import time

    deadline = time.monotonic() + 180
    while (job := sm.describe_processing_job(ProcessingJobName=unique))["ProcessingJobStatus"] in (
            "InProgress", "Stopping"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"{unique}/out/")["Contents"]]
    assert len(keys) == 1                                                   # staged out by smlocal
    probe = json.loads(s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read())
    _assert_sealed(probe)
    assert probe["inputs"] == {"data.csv": "4,5,6"}
