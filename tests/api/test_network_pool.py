"""Spare job networks (``emulator/jobs/network_pool.py``) on the in-memory container runtime: a job
takes a ready spare instead of creating its network, never waits for the pool, keeps one network to
itself (multi-host aliases included), and no pool network outlives its use: shutdown removes the
spares, the next start removes what a crash left, and a job recovered across a restart keeps and then
removes the spare it took."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from fake_runtime import FakeRuntime, runs_until_stopped, trains
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway, spares_ready, wait_for

from emulator.config import S3Settings
from emulator.jobs.network_pool import POOL_LABEL, VARIANT_LABEL, NetworkPool, pool_labels

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
BUCKET = "fake-network-pool"
RELEASE = threading.Event()


class GatedRuntime(FakeRuntime):
    """A fake whose network creates can be held (a loaded Docker engine) and are counted by name."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()
        self.gate.set()
        self.created: list[str] = []

    def create_network(self, name: str, labels: dict[str, str], internal: bool = False,
                       host_access: bool = True) -> None:
        if POOL_LABEL in labels:
            assert self.gate.wait(30)
        self.created.append(name)
        super().create_network(name, labels, internal, host_access)


@pytest.fixture(scope="module")
def runtime() -> GatedRuntime:
    return GatedRuntime({"fake/trains:1": trains(lines=("epoch 1",)),
                         "fake/released:1": runs_until_stopped(release=RELEASE)})


@pytest.fixture(scope="module")
def s3_settings(embedded_s3) -> S3Settings:
    client = boto3.client("s3", endpoint_url=embedded_s3.endpoint, region_name=REGION,
                          aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET)
    if BUCKET not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
        client.create_bucket(Bucket=BUCKET)
    return S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)


def training(name: str, image: str, hosts: int = 1, isolated: bool = False) -> dict:
    return {"TrainingJobName": name, "RoleArn": ROLE, "EnableNetworkIsolation": isolated,
            "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
            "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": hosts, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600}}


def finished(sm, name: str) -> dict:
    return wait_for(lambda: sm.describe_training_job(TrainingJobName=name), "TrainingJobStatus",
                    {"Completed", "Failed", "Stopped"})


def pool_networks(runtime: FakeRuntime, data_dir) -> dict[str, dict]:
    home = pool_labels(data_dir)[POOL_LABEL]
    return {n: info for n, info in runtime.networks.items() if info["labels"].get(POOL_LABEL) == home}


def ready(gateway, variant: str, count: int = 2) -> None:
    spares_ready(gateway.emulator.jobs.networks, variant, count, timeout=10)


def held_on_a_spare(gateway, runtime: FakeRuntime, unique: str, suffix: str, hosts: int = 1) -> str:
    """Run job ``unique``-a so the normal kind is wanted, wait for its spares, then start job ``unique``
    ``suffix`` on ``fake/released:1`` (it trains until ``RELEASE`` is set): the spare it took."""
    RELEASE.clear()
    sm = gateway.client("sagemaker")
    sm.create_training_job(**training(unique + "-a", "fake/trains:1"))
    finished(sm, unique + "-a")
    name = unique + suffix
    ready(gateway, "normal")
    sm.create_training_job(**training(name, "fake/released:1", hosts=hosts))
    wait_for(lambda: sm.describe_training_job(TrainingJobName=name), "SecondaryStatus", {"Training"})
    (taken,) = networks_of(runtime, name, hosts=hosts)
    return taken


def networks_of(runtime: FakeRuntime, name: str, hosts: int = 1) -> set[str | None]:
    """The networks of job ``name``'s containers, once all ``hosts`` exist ("Training" is written just
    before the containers are created)."""
    deadline = time.monotonic() + 10
    while len(found := [c for c in runtime.containers.values() if name in c.spec.name]) < hosts:
        assert time.monotonic() < deadline, found
        time.sleep(0.02)
    return {c.spec.network for c in found}


def test_a_job_takes_a_ready_spare_and_removes_it_when_it_ends(tmp_path, runtime, s3_settings, unique) -> None:
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as gateway:
        sm = gateway.client("sagemaker")
        sm.create_training_job(**training(unique + "-a", "fake/trains:1"))     # the first job makes its own
        assert finished(sm, unique + "-a")["TrainingJobStatus"] == "Completed"
        assert f"smlocal-train-{unique}-a" in runtime.created
        ready(gateway, "normal")                                                # then two spares are made
        spares = set(gateway.emulator.jobs.networks.spares()["normal"])
        assert {runtime.networks[n]["labels"][VARIANT_LABEL] for n in spares} == {"normal"}
        RELEASE.clear()
        sm.create_training_job(**training(unique + "-b", "fake/released:1", hosts=2))
        wait_for(lambda: sm.describe_training_job(TrainingJobName=unique + "-b"), "SecondaryStatus", {"Training"})
        (taken,) = networks_of(runtime, unique + "-b", hosts=2)                          # both hosts on one network
        assert taken in spares and f"smlocal-train-{unique}-b" not in runtime.created
        specs = sorted((c.spec.hostname, c.spec.aliases) for c in runtime.containers.values()
                       if unique + "-b" in c.spec.name)
        assert specs == [("algo-1", ["algo-1"]), ("algo-2", ["algo-2"])]      # aliases per container endpoint
        ready(gateway, "normal")                                                # refilled after the take
        assert taken not in gateway.emulator.jobs.networks.spares()["normal"]
        RELEASE.set()
        assert finished(sm, unique + "-b")["TrainingJobStatus"] == "Completed"
        wait_for(lambda: {"gone": taken not in runtime.networks}, "gone", {True})
        assert len(pool_networks(runtime, tmp_path)) == 2                       # the spares, nothing else
    assert pool_networks(runtime, tmp_path) == {}                               # shutdown removed the spares
    assert not [n for n in runtime.networks if unique in n]


def test_an_isolated_job_takes_a_sealed_spare_never_a_normal_one(tmp_path, runtime, s3_settings, unique) -> None:
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as gateway:
        sm = gateway.client("sagemaker")
        sm.create_training_job(**training(unique + "-a", "fake/trains:1"))
        finished(sm, unique + "-a")
        ready(gateway, "normal")
        sm.create_training_job(**training(unique + "-i", "fake/trains:1", isolated=True))
        assert finished(sm, unique + "-i")["TrainingJobStatus"] == "Completed"
        own = runtime.created.index(f"smlocal-train-{unique}-i")   # no sealed spare yet: its own network
        ready(gateway, "sealed")
        sealed = gateway.emulator.jobs.networks.spares()["sealed"]
        assert all(runtime.networks[n]["internal"] and not runtime.networks[n]["host_access"] for n in sealed)
        assert all(runtime.created.index(n) > own for n in sealed)
        RELEASE.clear()
        sm.create_training_job(**training(unique + "-j", "fake/released:1", isolated=True))
        wait_for(lambda: sm.describe_training_job(TrainingJobName=unique + "-j"), "SecondaryStatus", {"Training"})
        (taken,) = networks_of(runtime, unique + "-j")
        assert taken in sealed
        RELEASE.set()
        finished(sm, unique + "-j")
        wait_for(lambda: {"gone": taken not in runtime.networks}, "gone", {True})
    assert pool_networks(runtime, tmp_path) == {}


def test_a_job_never_waits_for_the_pool(tmp_path, runtime, s3_settings, unique) -> None:
    """While the pool's creates hang (a loaded engine), jobs create their own networks and complete."""
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as gateway:
        sm = gateway.client("sagemaker")
        runtime.gate.clear()
        try:
            for suffix in ("-a", "-b"):
                sm.create_training_job(**training(unique + suffix, "fake/trains:1"))
                assert finished(sm, unique + suffix)["TrainingJobStatus"] == "Completed"
                assert f"smlocal-train-{unique}{suffix}" in runtime.created
        finally:
            runtime.gate.set()
        ready(gateway, "normal")
    assert pool_networks(runtime, tmp_path) == {}


def test_pool_off_creates_each_jobs_own_network_as_before(tmp_path, runtime, s3_settings, unique) -> None:
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime, job_network_spares=0) as gateway:
        sm = gateway.client("sagemaker")
        for suffix in ("-a", "-b"):
            sm.create_training_job(**training(unique + suffix, "fake/trains:1"))
            assert finished(sm, unique + suffix)["TrainingJobStatus"] == "Completed"
            assert f"smlocal-train-{unique}{suffix}" in runtime.created
        time.sleep(0.3)
        assert pool_networks(runtime, tmp_path) == {} and gateway.emulator.jobs.networks.spares() == {}


def test_a_job_running_across_a_restart_keeps_its_spare_and_crash_leftovers_are_swept(
        tmp_path, runtime, s3_settings, unique) -> None:
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        taken = held_on_a_spare(first, runtime, unique, "-r")
        ready(first, "normal")
    assert set(pool_networks(runtime, tmp_path)) == {taken}          # the spares went; the job's stays
    # what a killed gateway leaves: spares it made, and the spare of a job that ended before its cleanup
    labels = {**pool_labels(tmp_path), VARIANT_LABEL: "normal"}
    runtime.create_network("smlocal-net-crashleft01", labels)
    other = {**pool_labels(tmp_path / "elsewhere"), VARIANT_LABEL: "normal"}
    runtime.create_network("smlocal-net-otherhome1", other)           # another smlocal's: left alone
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        assert set(pool_networks(runtime, tmp_path)) == {taken}
        assert "smlocal-net-otherhome1" in runtime.networks
        sm = second.client("sagemaker")
        RELEASE.set()
        assert finished(sm, unique + "-r")["TrainingJobStatus"] == "Completed"
        wait_for(lambda: {"gone": taken not in runtime.networks}, "gone", {True})
    assert pool_networks(runtime, tmp_path) == {}
    runtime.remove_network("smlocal-net-otherhome1")


def test_shutdown_during_a_create_removes_the_network_being_made(tmp_path) -> None:
    runtime = GatedRuntime({})
    pool = NetworkPool(runtime, tmp_path, 2)
    pool.start()
    runtime.gate.clear()
    assert pool.take(internal=False, host_access=True) is None      # at once, with nothing ready
    pool.refill()
    time.sleep(0.1)
    closer = threading.Thread(target=pool.close)
    closer.start()
    runtime.gate.set()
    closer.join(10)
    assert not closer.is_alive()
    assert pool_networks(runtime, tmp_path) == {}
    assert pool.take(internal=False, host_access=True) is None      # closed: jobs make their own


def test_release_gives_back_every_spare(tmp_path) -> None:
    runtime = GatedRuntime({})
    pool = NetworkPool(runtime, tmp_path, 1)
    pool.start()
    for internal, host_access in ((False, True), (True, True), (True, False)):
        pool.take(internal, host_access)
    pool.refill()
    deadline = time.monotonic() + 10
    while sorted(pool.spares()) != ["internal", "normal", "sealed"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert {name: len(names) for name, names in pool.spares().items()} == {"normal": 1, "internal": 1, "sealed": 1}
    assert pool.release() == 3
    pool.close()
    assert pool_networks(runtime, tmp_path) == {}


def test_a_job_restarted_before_its_containers_started_keeps_the_spare_it_took(
        tmp_path, runtime, s3_settings, unique) -> None:
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as first:
        taken = held_on_a_spare(first, runtime, unique, "-c", hosts=2)
    for container in [c for c in runtime.containers.values() if unique + "-c" in c.spec.name]:
        runtime.remove(container.id)
        runtime.create(container.spec)   # as the first start left it: created, never started
    RELEASE.set()
    with live_gateway(tmp_path, s3=s3_settings, containers=runtime) as second:
        sm = second.client("sagemaker")
        assert finished(sm, unique + "-c")["TrainingJobStatus"] == "Completed"
        assert f"smlocal-train-{unique}-c" not in runtime.created      # it ran again on the spare it took
        wait_for(lambda: {"gone": taken not in runtime.networks}, "gone", {True})
    assert pool_networks(runtime, tmp_path) == {}
