"""The Docker layer keeps a bounded number of connections to the engine, however many containers
it has run (issue 19: the scale benchmark saw the gateway's sockets grow with the number of jobs)."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from emulator.infra.containers import ContainerSpec
from emulator.infra.docker_engine import POOL_SIZE, DockerEngine

pytestmark = pytest.mark.docker


def _unix_sockets() -> int:
    """This process's open Unix-domain sockets (the Docker engine's connections among them)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if not stat.S_ISSOCK(os.stat(f"/proc/self/fd/{fd}").st_mode):
                continue
            with socket.socket(fileno=os.dup(int(fd))) as sock:
                count += sock.family == socket.AF_UNIX
        except OSError:        # closed meanwhile, or not a socket Python can wrap
            continue
    return count


def _lifecycle(engine: DockerEngine, image: str, index: int) -> None:
    """What a job does with its container: create, start, follow the logs, wait, inspect, remove."""
    spec = ContainerSpec(name=f"smlocal-test-fds-{os.getpid()}-{index}", image=image,
                         command=["sh", "-c", f"echo run {index}"], labels={"org.smlocal.job": "fds-test"})
    container = engine.start(spec)
    try:
        lines = [line for _, line in engine.logs(container)]
        assert lines == [f"run {index}"]
        assert engine.wait(container, timeout=60) == 0
        state = engine.state(container)
        assert state is not None and state.exit_code == 0
        assert engine.tail(container) == [f"run {index}"]
    finally:
        engine.remove(container)


def test_engine_connections_stay_bounded_however_many_containers_ran(base_image: str) -> None:
    engine = DockerEngine()
    engine.image_exists(base_image)
    baseline = _unix_sockets()
    for i in range(5):
        _lifecycle(engine, base_image, i)
    after_few = _unix_sockets()
    for i in range(5, 30):
        _lifecycle(engine, base_image, i)
    after_many = _unix_sockets()
    # every container-specific URL (/containers/<id>/logs, /wait, /json, ...) used to get its own
    # connection pool (docker-py keys them by URL, 25 pools kept): 20+ idle sockets after 30 containers.
    # One shared pool keeps at most POOL_SIZE idle connections; one call at a time here needs one.
    assert after_many - baseline <= 2, (baseline, after_few, after_many)
    assert after_many <= after_few + 1, (baseline, after_few, after_many)
    assert POOL_SIZE >= 1
