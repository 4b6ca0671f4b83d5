"""Issue 18, item 4: EnableNetworkIsolation for training and processing jobs, in real containers.

Before: the containers got the S3 keys and endpoint, and the S3 bridge relay (on the host's Docker
bridge address) answered from the job's internal network. Now: no credentials in the environment, no
route to S3, the host, the gateway or anywhere else; the job's hosts still reach each other; smlocal
still stages the inputs in and the outputs out."""

from __future__ import annotations

import json

import pytest
from support import fresh_spares
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
reached = {}
for host, port in targets:
    try:
        socket.create_connection((host, port), timeout=3).close()
        reached[f"{host}:{port}"] = "REACHED"
    except Exception as exc:
        reached[f"{host}:{port}"] = type(exc).__name__
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
json.dump({"env": env, "reached": reached, "peer": peer, "inputs": inputs, "routes": routes},
          open(os.path.join(out, "probe-" + socket.gethostname() + ".json"), "w"))
"""


def _targets(jobs_gateway, bridge_relay) -> list:
    bridge = docker_bridge_gateway() or "172.17.0.1"
    return [[bridge, bridge_relay.listen_port], [bridge, jobs_gateway.port], ["host.docker.internal",
            bridge_relay.listen_port], ["8.8.8.8", 53], ["1.1.1.1", 443]]


def _assert_sealed(probe: dict) -> None:
    assert probe["env"].keys() <= {"AWS_REGION", "AWS_DEFAULT_REGION"}, probe["env"]
    assert "REACHED" not in probe["reached"].values(), (probe["reached"], probe.get("routes"))


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
