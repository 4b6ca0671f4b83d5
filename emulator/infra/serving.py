"""Reaching a serving container's HTTP port (8080): where it is, and whether ``GET /ping`` passes.

Used by endpoints and by batch transform, which both run model servers."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

from emulator.infra.containers import ContainerError, ContainerRuntime
from emulator.infra.platform import PlatformEnv, region_environment, s3_environment

PORT = 8080                                      # SageMaker's serving port
PING_TIMEOUT = 2.0
IN_CONTAINER = Path("/.dockerenv").exists()     # the gateway itself runs in a container


def serving_environment(container: dict[str, Any], platform: PlatformEnv, isolated: bool) -> dict[str, str]:
    """A model server's environment: region, the port range SageMaker reserves, S3 endpoint and keys
    (withheld under network isolation), then the model container's own Environment."""
    env = {**region_environment(platform), "SAGEMAKER_SAFE_PORT_RANGE": "25000-25999"}
    if not isolated:
        env.update(s3_environment(platform))
    env.update(container.get("Environment") or {})
    return env


def container_address(runtime: ContainerRuntime, container_id: str, docker_network: str = "",
                      isolated_network: str | None = None) -> tuple[str, int]:
    """Where the gateway reaches a serving container's port 8080: its address on an internal
    (network-isolated) network, its address on smlocal's network when the gateway itself runs in a
    container there, otherwise the port the runtime published on loopback."""
    ports, ips = runtime.addresses(container_id)
    if isolated_network and ips.get(isolated_network):
        return ips[isolated_network], PORT
    if IN_CONTAINER and docker_network and ips.get(docker_network):
        return ips[docker_network], PORT
    port = ports.get(f"{PORT}/tcp")
    if port is None:
        raise ContainerError(f"Docker published no port for container {container_id[:12]}.")
    return "127.0.0.1", port


def ping(host: str, port: int) -> bool:
    conn = http.client.HTTPConnection(host, port, timeout=PING_TIMEOUT)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
