"""Issue 18, item 9: job and endpoint containers get a PIDs limit; the data directory and state.db
are the owner's alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from test_training_contract import JOB, PLATFORM

from emulator.config import Settings
from emulator.infra import docker_engine
from emulator.infra.containers import DEFAULT_PIDS_LIMIT, ContainerSpec
from emulator.jobs import training_contract as contract
from emulator.server import build
from emulator.state.db import Database


def test_every_container_spec_has_a_pids_limit(tmp_path: Path, monkeypatch):
    spec = contract.container_spec(JOB, "algo-1", "img:1", contract.HostLayout(tmp_path), {}, PLATFORM, (None, None))
    assert spec.pids_limit == DEFAULT_PIDS_LIMIT
    monkeypatch.setenv("SMLOCAL_PIDS_LIMIT", "256")
    assert ContainerSpec("n", "i").pids_limit == 256
    monkeypatch.setenv("SMLOCAL_PIDS_LIMIT", "off")
    assert ContainerSpec("n", "i").pids_limit is None


def test_docker_engine_passes_the_pids_limit(monkeypatch):
    created = {}

    class Containers:
        def create(self, **kwargs):
            created.update(kwargs)
            return type("C", (), {"id": "abc"})()

    class Client:
        containers = Containers()

    engine = docker_engine.DockerEngine()
    engine._client = Client()  # type: ignore[assignment]
    assert engine.create(ContainerSpec("n", "img:1", pids_limit=123)) == "abc"
    assert created["pids_limit"] == 123


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_data_directory_and_state_db_are_private(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    emulator = build(Settings(data_dir=data), containers=object())  # type: ignore[arg-type]
    with emulator.db.transaction() as conn:          # a write: SQLite creates the -wal and -shm files
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('x', '1')")
    assert _mode(data) == 0o700
    assert _mode(data / "state.db") == 0o600
    for extra in ("state.db-wal", "state.db-shm"):
        if (data / extra).exists():
            assert _mode(data / extra) == 0o600, extra
    emulator.db.close()


def test_an_existing_world_readable_db_is_fixed(tmp_path: Path):
    path = tmp_path / "state.db"
    Database(path).close()
    os.chmod(path, 0o644)
    Database(path).close()
    assert _mode(path) == 0o600


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_a_new_db_is_private_whatever_the_umask(tmp_path: Path, umask: int):
    old = os.umask(umask)
    try:
        db = Database(tmp_path / f"u{umask}.db")
        with db.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('x', '1')")
        for path in tmp_path.glob(f"u{umask}.db*"):
            assert _mode(path) == 0o600, path
        db.close()
    finally:
        os.umask(old)


def test_finding_containers_skips_one_removed_while_listing():
    """A container removed between Docker's listing and its inspect (another job's cleanup) is left out
    instead of failing the whole listing with "No such container" (seen in CI under load)."""
    import docker as docker_sdk
    from docker.models.containers import ContainerCollection

    class Api:
        _version = "1.41"

        def containers(self, **kwargs):
            assert kwargs["all"] and kwargs["filters"]["label"][1] == "org.smlocal.job=j"
            return [{"Id": "kept"}, {"Id": "gone"}]

        def inspect_container(self, container_id):
            if container_id == "gone":
                raise docker_sdk.errors.NotFound("No such container: gone")
            return {"Id": container_id, "Name": "/kept", "State": {"Status": "exited", "ExitCode": 0},
                    "Config": {"Labels": {"org.smlocal.job": "j"}}}

    class Client:
        api = Api()

    Client.containers = ContainerCollection(client=Client)   # docker-py's own listing code
    engine = docker_engine.DockerEngine()
    engine._client = Client()  # type: ignore[assignment]
    found = engine.find({"org.smlocal.job": "j"})
    assert [(c.id, c.status, c.exit_code) for c in found] == [("kept", "exited", 0)]
