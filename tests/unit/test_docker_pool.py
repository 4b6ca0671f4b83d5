"""The Docker client shares one connection pool across URLs (no engine needed: pools connect lazily)."""

from __future__ import annotations

import docker

from emulator.infra.docker_engine import POOL_SIZE, _OnePoolAdapter, _share_one_pool


def test_container_specific_urls_share_one_bounded_pool() -> None:
    client = docker.DockerClient(base_url="unix:///nonexistent/docker.sock", version="1.41", max_pool_size=POOL_SIZE)
    stock = client.api.get_adapter("http+docker://localhost/v1.41/containers/a/json")
    a, b = (stock.get_connection(f"http+docker://localhost/v1.41/containers/{c}/json") for c in "ab")
    assert a is not b, "docker-py keys its pools by URL (why smlocal replaces the adapter)"
    _share_one_pool(client)
    adapter = client.api.get_adapter("http+docker://localhost/v1.41/containers/a/json")
    assert isinstance(adapter, _OnePoolAdapter) and client.api._custom_adapter is adapter
    pools = {id(adapter.get_connection(f"http+docker://localhost/v1.41/containers/{c}/{what}"))
             for c in ("a", "b", "c") for what in ("json", "wait", "logs?follow=1")}
    assert len(pools) == 1
    pool = adapter.get_connection("http+docker://localhost/_ping")
    assert pool.pool is not None and pool.pool.maxsize == POOL_SIZE
    assert adapter.socket_path == "/nonexistent/docker.sock"
    _share_one_pool(client)             # idempotent
    assert client.api.get_adapter("http+docker://localhost/x") is adapter
    client.close()
