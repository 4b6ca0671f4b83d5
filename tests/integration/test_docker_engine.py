"""The Docker layer's own guarantees: cleanup that root-owned files cannot break, labels, errors."""

from __future__ import annotations

import os
import shutil

import docker
import pytest
from docker.types import Mount

from emulator.infra import docker_engine
from emulator.infra.containers import ContainerError, ContainerSpec
from emulator.infra.docker_engine import DockerEngine

pytestmark = pytest.mark.docker


def test_remove_tree_reclaims_files_a_container_left(tmp_path, base_image, monkeypatch):
    work = tmp_path / "workspace"
    (work / "sub").mkdir(parents=True)
    docker.from_env().containers.run(
        base_image, ["sh", "-c", "touch /w/sub/f && chown -R 4242:4242 /w/sub && chmod 700 /w/sub"],
        mounts=[Mount("/w", str(work), type="bind")], remove=True)
    assert (work / "sub").stat().st_uid == 4242
    real_rmtree, calls = shutil.rmtree, []

    def rmtree(path, *args, **kwargs):
        calls.append((work / "sub").stat().st_uid if (work / "sub").exists() else None)
        if len(calls) == 1:  # what a non-root emulator meets: the container's files are not ours
            raise PermissionError(13, "Permission denied", str(path))
        return real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(docker_engine.shutil, "rmtree", rmtree)

    def managed() -> set[str]:  # other work on this machine may run containers of its own
        return {c.id for c in docker.from_env().containers.list(
            all=True, filters={"label": "org.smlocal.managed=true", "ancestor": base_image})}

    before = managed()
    DockerEngine().remove_tree(work, base_image)
    assert calls == [4242, os.getuid()], "a container must hand the files back before deleting"
    assert not work.exists()
    assert managed() <= before, "the helper container is removed"


def test_errors_name_the_image_and_what_to_do(base_image):
    engine = DockerEngine()
    with pytest.raises(ContainerError, match="image smlocal-test/absent:1 is not present in the local Docker engine"):
        engine.start(ContainerSpec(name="smlocal-test-absent", image="smlocal-test/absent:1"))
    assert engine.image_exists(base_image) and not engine.image_exists("smlocal-test/absent:1")


def test_logs_carry_docker_timestamps_and_find_uses_labels(base_image):
    engine = DockerEngine()
    spec = ContainerSpec(name="smlocal-test-logs", image=base_image, command=["sh", "-c", "echo one; echo two >&2"],
                         labels={"org.smlocal.job": "engine-test"})
    container = engine.start(spec)
    try:
        assert engine.wait(container, timeout=60) == 0
        lines = list(engine.logs(container))
        assert sorted(text for _, text in lines) == ["one", "two"]  # stdout and stderr both captured
        assert all(stamp > 1_700_000_000_000 for stamp, _ in lines)
        assert [c.id for c in engine.find({"org.smlocal.job": "engine-test"})] == [container]
    finally:
        engine.remove(container)
    assert engine.find({"org.smlocal.job": "engine-test"}) == []


def test_a_container_joins_extra_networks_with_its_aliases(base_image):
    client, engine = docker.from_env(), DockerEngine()
    engine.create_network("smlocal-test-primary", {"org.smlocal.job": "engine-net"})
    engine.create_network("smlocal-test-extra", {"org.smlocal.job": "engine-net"})
    spec = ContainerSpec(name="smlocal-test-nets", image=base_image, command=["true"], network="smlocal-test-primary",
                         aliases=["algo-1"], extra_networks=["smlocal-test-extra"])
    container = engine.create(spec)
    try:
        networks = client.containers.get(container).attrs["NetworkSettings"]["Networks"]
        assert set(networks) == {"smlocal-test-primary", "smlocal-test-extra"}
        assert "algo-1" in networks["smlocal-test-extra"]["Aliases"]
    finally:
        engine.remove(container)
        engine.remove_network("smlocal-test-primary")
        engine.remove_network("smlocal-test-extra")


def test_stop_with_a_signal_then_kill_after_the_grace_period(base_image):
    import time

    engine = DockerEngine()
    polite = engine.start(ContainerSpec(name="smlocal-test-sigint", image=base_image, command=[
        "sh", "-c", "trap 'echo got INT; exit 5' INT; while true; do sleep 0.1; done"]))
    stubborn = engine.start(ContainerSpec(name="smlocal-test-nosigint", image=base_image, command=[
        "sh", "-c", "trap '' INT; while true; do sleep 0.1; done"]))
    try:
        time.sleep(0.5)
        engine.stop(polite, 10, "SIGINT")
        assert engine.wait(polite, timeout=5) == 5
        assert [text for _, text in engine.logs(polite)] == ["got INT"]
        started = time.monotonic()
        engine.stop(stubborn, 1, "SIGINT")
        assert engine.wait(stubborn, timeout=5) == 137 and time.monotonic() - started < 5
        engine.stop(stubborn, 1, "SIGINT")          # no longer running: nothing to do, no error
    finally:
        engine.remove(polite)
        engine.remove(stubborn)


def test_find_networks_by_label_for_the_debris_sweep():
    engine = DockerEngine()
    engine.create_network("smlocal-test-find-a", {"org.smlocal.kind": "endpoint", "org.smlocal.endpoint": "find-me"},
                          internal=True)
    engine.create_network("smlocal-test-find-b", {"org.smlocal.kind": "endpoint", "org.smlocal.endpoint": "other"})
    try:
        found = engine.find_networks({"org.smlocal.endpoint": "find-me"})
        assert [name for name, _ in found] == ["smlocal-test-find-a"]
        assert found[0][1]["org.smlocal.kind"] == "endpoint" and found[0][1]["org.smlocal.managed"] == "true"
        assert {n for n, _ in engine.find_networks({"org.smlocal.kind": "endpoint"})} >= {
            "smlocal-test-find-a", "smlocal-test-find-b"}
    finally:
        engine.remove_network("smlocal-test-find-a")
        engine.remove_network("smlocal-test-find-b")
    assert engine.find_networks({"org.smlocal.endpoint": "find-me"}) == []
def test_sealed_networks_take_subnets_no_bridge_has_an_address_in(monkeypatch):
    """A sealed network's containers route to a gateway address nobody may own: its subnet comes from
    SEALED_RANGE (outside Docker's default pools), and a subnet already taken there is skipped."""
    import ipaddress

    engine = DockerEngine()
    names = ["smlocal-test-sealed-a", "smlocal-test-sealed-b"]
    first = ipaddress.ip_network("198.18.200.0/24")
    picks = iter([0, 0, 1])      # the second network first draws the first one's subnet: refused, drawn again
    subnets = list(docker_engine.SEALED_RANGE.subnets(new_prefix=24))
    base = subnets.index(first)
    monkeypatch.setattr(docker_engine.secrets, "randbelow", lambda n: base + next(picks))
    try:
        for name in names:
            engine.create_network(name, {"org.smlocal.job": "sealed"}, internal=True, host_access=False)
        got = [engine.client.networks.get(name).attrs for name in names]
        assert [a["IPAM"]["Config"][0]["Subnet"] for a in got] == ["198.18.200.0/24", "198.18.201.0/24"]
        assert all(a["Internal"] and a["Options"]["com.docker.network.bridge.inhibit_ipv4"] == "true" for a in got)
        with open("/proc/net/fib_trie") as trie:   # the host has no address in the range
            assert "198.18." not in trie.read()
    finally:
        for name in names:
            engine.remove_network(name)


def test_a_fork_loop_stops_at_the_pids_limit(base_image):
    """Issue 18, item 9: a fork bomb in a user script stays inside its container."""
    engine = DockerEngine()
    script = "i=0; while [ $i -lt 200 ]; do sleep 3 & i=$((i+1)); done; echo all 200 started"
    container = engine.start(ContainerSpec(name=f"smlocal-test-pids-{os.getpid()}", image=base_image,
                                           entrypoint=["sh", "-c"], command=[script], pids_limit=32))
    try:
        engine.wait(container, timeout=120)
        output = "\n".join(engine.tail(container, 400))
        assert "cannot fork" in output.lower() and "all 200 started" not in output, output[-2000:]
        inspected = docker.from_env().api.inspect_container(container)
        assert inspected["HostConfig"]["PidsLimit"] == 32
    finally:
        engine.stop(container, 0)
        engine.remove(container)
