"""The emulator's only way to Docker: the ``ContainerRuntime`` seam implemented over the docker SDK.

Every container and network smlocal creates carries the label ``org.smlocal.managed=true`` plus
labels naming the job, so cleanup and restart recovery find them by label alone. Docker errors
become ``ContainerError`` with a message a user can act on (they end up in FailureReasons).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
import secrets
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.errors
import requests.exceptions
from docker.transport import UnixHTTPAdapter
from docker.types import IPAMConfig, IPAMPool, Mount

from emulator.infra.containers import MANAGED, ContainerError, ContainerSpec, ContainerState

log = logging.getLogger(__name__)
# Sealed networks (network isolation) take a /24 of this range (RFC 2544's benchmarking range, outside
# Docker's default address pools): see ``DockerEngine.create_network``
SEALED_RANGE = ipaddress.ip_network("198.18.0.0/15")
SEALED_ATTEMPTS = 16
POOL_SIZE = 10      # idle connections kept to the engine (docker-py's default ``max_pool_size``)


class _OnePoolAdapter(UnixHTTPAdapter):
    """docker-py's Unix-socket adapter, with one connection pool for the whole engine.

    docker-py (7.x) keys its pools by the request's full URL, so every container-specific call
    (``/containers/<id>/json``, ``/wait``, ``/logs``...) opens a connection of its own, which then stays
    idle in a pool of its own: 25 pools of up to 10 connections are kept (least recently used dropped),
    which the scale benchmark saw as sockets growing with the number of jobs. One pool reuses keep-alive
    connections across containers and keeps at most ``POOL_SIZE`` idle ones; calls in flight (a
    followed log stream, a wait) hold one each until they end.
    """

    def get_connection(self, url, proxies=None):  # type: ignore[no-untyped-def]
        return super().get_connection("http+docker://localhost", proxies)


def _share_one_pool(client: docker.DockerClient) -> None:
    """Replace a Unix-socket client's per-URL pools by ``_OnePoolAdapter`` (other transports as they are)."""
    api = client.api
    current = getattr(api, "_custom_adapter", None)
    if not isinstance(current, UnixHTTPAdapter) or isinstance(current, _OnePoolAdapter):
        return
    shared = _OnePoolAdapter("http+unix://" + current.socket_path, current.timeout, max_pool_size=POOL_SIZE)
    api.mount("http+docker://", shared)
    api._custom_adapter = shared
    current.close()


def _describe(exc: Exception) -> str:
    if isinstance(exc, docker.errors.APIError):
        return exc.explanation or str(exc)
    return f"{type(exc).__name__}: {exc}"


class DockerEngine:
    """``ContainerRuntime`` over the local Docker engine (DOCKER_HOST or the default socket)."""

    def __init__(self) -> None:
        self._client: docker.DockerClient | None = None
        self._lock = threading.Lock()
        self._network_lock = threading.Lock()   # one network create at a time from this process

    @property
    def client(self) -> docker.DockerClient:
        with self._lock:
            if self._client is None:
                try:
                    self._client = docker.from_env(timeout=120, max_pool_size=POOL_SIZE)
                    _share_one_pool(self._client)
                    self._client.ping()
                except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                    self._client = None
                    raise ContainerError(
                        f"cannot reach the Docker engine ({_describe(exc)}); start it (scripts/docker-engine.sh "
                        "on Debian) and check DOCKER_HOST") from None
            return self._client

    # --- images ------------------------------------------------------------------------------------
    def image_exists(self, image: str) -> bool:
        try:
            self.client.images.get(image)
            return True
        except docker.errors.ImageNotFound:
            return False
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ContainerError(f"cannot inspect image {image}: {_describe(exc)}") from None

    # --- networks ----------------------------------------------------------------------------------
    def create_network(self, name: str, labels: dict[str, str], internal: bool = False,
                       host_access: bool = True) -> None:
        """``host_access`` False: the host gets no address on the bridge, so its containers have no
        route to the host either (an internal network alone still lets them reach every address of
        the host, the S3 bridge relay included, through the bridge's gateway).

        Such a sealed network's containers still get a default route to the subnet's gateway address,
        which nobody owns; it must stay so. Docker's allocator can hand the same subnet to two networks
        created at the same time (moby/libnetwork#915 and later reports); had a normal network got a
        sealed one's subnet, the host would own that gateway address and answer for it. A run here saw
        an isolated job reach the host so. Sealed networks therefore take a random /24 of
        ``SEALED_RANGE``, which Docker's default pools never hand out and where no bridge has an address
        (the engine refuses an overlapping pool: another is tried); network creates from this process
        are also made one at a time."""
        options = {} if host_access else {"com.docker.network.bridge.inhibit_ipv4": "true"}
        try:
            with self._network_lock:
                for existing in self.client.networks.list(names=[name]):
                    if existing.name == name:
                        return
                if host_access:
                    self.client.networks.create(name, driver="bridge", internal=internal, options=options,
                                                labels={MANAGED: "true", **labels})
                else:
                    self._create_sealed(name, internal, options, labels)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ContainerError(f"cannot create Docker network {name}: {_describe(exc)}") from None

    def _create_sealed(self, name: str, internal: bool, options: dict[str, str], labels: dict[str, str]) -> None:
        subnets = list(SEALED_RANGE.subnets(new_prefix=24))
        for attempt in range(SEALED_ATTEMPTS):
            subnet = subnets[secrets.randbelow(len(subnets))]
            try:
                self.client.networks.create(name, driver="bridge", internal=internal, options=options,
                                            ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet))]),
                                            labels={MANAGED: "true", **labels})
                return
            except docker.errors.APIError as exc:
                if "overlap" not in str(exc).lower() or attempt == SEALED_ATTEMPTS - 1:
                    raise

    def remove_network(self, name: str) -> None:
        try:
            for network in self.client.networks.list(names=[name]):
                if network.name == name:
                    network.remove()
        except docker.errors.NotFound:
            pass
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            log.warning("could not remove network %s: %s", name, _describe(exc))

    def find_networks(self, labels: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
        """(name, labels) of the smlocal networks carrying every one of ``labels``."""
        wanted = [f"{MANAGED}=true"] + [f"{k}={v}" for k, v in labels.items()]
        try:
            return [(n.name, dict(n.attrs.get("Labels") or {})) for n in self.client.networks.list(
                filters={"label": wanted})]
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ContainerError(f"cannot list Docker networks: {_describe(exc)}") from None

    # --- containers --------------------------------------------------------------------------------
    def start(self, spec: ContainerSpec) -> str:
        """Create and start a container; returns its id."""
        container_id = self.create(spec)
        self.start_created(container_id, spec)
        return container_id

    def start_created(self, container_id: str, spec: ContainerSpec) -> None:
        try:
            self.client.api.start(container_id)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            self.remove(container_id)
            raise ContainerError(f"cannot start container {spec.name} from {spec.image}: {_describe(exc)}") from None

    def create(self, spec: ContainerSpec) -> str:
        """Create (not start) a container; returns its id."""
        kwargs: dict = {
            "image": spec.image, "command": spec.command, "entrypoint": spec.entrypoint,
            "environment": spec.environment, "hostname": spec.hostname, "name": spec.name,
            "labels": {MANAGED: "true", **spec.labels}, "detach": True,
            "mounts": [Mount(target, source, type="bind", read_only=ro) for source, target, ro in spec.binds],
            "extra_hosts": spec.extra_hosts or None, "working_dir": spec.working_dir,
        }
        if spec.nano_cpus:
            kwargs["nano_cpus"] = spec.nano_cpus
        if spec.mem_limit:
            kwargs["mem_limit"] = spec.mem_limit
            kwargs["memswap_limit"] = spec.mem_limit   # no swap: memory blow-ups behave like on the instance
        if spec.pids_limit:
            kwargs["pids_limit"] = spec.pids_limit
        if spec.ports:
            kwargs["ports"] = {port: binding for port, binding in spec.ports.items()}
        if spec.network == "none":
            kwargs["network_mode"] = "none"
        elif spec.network:
            kwargs["network"] = spec.network
            if spec.aliases:
                kwargs["networking_config"] = {
                    spec.network: self.client.api.create_endpoint_config(aliases=spec.aliases)}
        try:
            container = self.client.containers.create(**kwargs)
            for network in spec.extra_networks:
                self.client.api.connect_container_to_network(container.id, network, aliases=spec.aliases or None)
            return str(container.id)
        except docker.errors.ImageNotFound:
            raise ContainerError(f"image {spec.image} is not present in the local Docker engine") from None
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ContainerError(f"cannot create container {spec.name} from {spec.image}: {_describe(exc)}") from None

    def state(self, container_id: str) -> ContainerState | None:
        try:
            container = self.client.containers.get(container_id)
        except docker.errors.NotFound:
            return None
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ContainerError(f"cannot inspect container {container_id[:12]}: {_describe(exc)}") from None
        state = container.attrs.get("State", {})
        running = state.get("Status") in ("running", "created", "restarting")
        return ContainerState(container.id, container.name, state.get("Status", "unknown"),
                              None if running else state.get("ExitCode"), bool(state.get("OOMKilled")),
                              container.labels)

    def addresses(self, container_id: str) -> tuple[dict[str, int], dict[str, str]]:
        """(published TCP ports: "8080/tcp" -> host port, network name -> container IP address)."""
        try:
            attrs = self.client.api.inspect_container(container_id)
        except docker.errors.NotFound:
            raise ContainerError(f"container {container_id[:12]} disappeared") from None
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ContainerError(f"cannot inspect container {container_id[:12]}: {_describe(exc)}") from None
        settings = attrs.get("NetworkSettings") or {}
        ports = {}
        for port, bindings in (settings.get("Ports") or {}).items():
            for binding in bindings or []:
                if binding.get("HostPort", "").isdigit():
                    ports[port] = int(binding["HostPort"])
                    break
        ips = {name: net.get("IPAddress", "") for name, net in (settings.get("Networks") or {}).items()}
        return ports, ips

    def tail(self, container_id: str, lines: int = 20) -> list[str]:
        """The container's last output lines (for failure reasons); empty when it is gone."""
        try:
            raw = self.client.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except (docker.errors.APIError, requests.exceptions.RequestException):
            return []
        return raw.decode("utf-8", "replace").splitlines()

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        """Block until the container exits (or ``timeout`` passes: TimeoutError); returns its exit code."""
        try:
            result = self.client.api.wait(container_id, timeout=timeout)
        except requests.exceptions.ReadTimeout:
            raise TimeoutError(container_id) from None
        except requests.exceptions.ConnectionError as exc:
            if "timed out" in str(exc).lower():
                raise TimeoutError(container_id) from None
            raise ContainerError(f"lost the Docker engine while waiting for {container_id[:12]}: {exc}") from None
        except docker.errors.NotFound:
            raise ContainerError(f"container {container_id[:12]} disappeared") from None
        return int(result.get("StatusCode", -1))

    def logs(self, container_id: str, since: float | None = None) -> Iterator[tuple[int, str]]:
        """Follow a container's stdout+stderr: (epoch milliseconds, line) until it exits."""
        try:
            stream = self.client.api.logs(container_id, stream=True, follow=True, timestamps=True,
                                          since=since if since else None)
            pending = b""
            for chunk in stream:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    yield _timestamped(raw)
            if pending:
                yield _timestamped(pending)
        except docker.errors.NotFound:
            return
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            log.warning("log stream of %s ended: %s", container_id[:12], _describe(exc))

    def stop(self, container_id: str, grace_seconds: float, signal: str | None = None) -> None:
        """SIGTERM (or ``signal``), then SIGKILL after ``grace_seconds`` (``docker stop -t``)."""
        try:
            if signal is None:
                self.client.api.stop(container_id, timeout=max(0, int(grace_seconds)))
                return
            self.client.api.kill(container_id, signal=signal)
            try:
                self.client.api.wait(container_id, timeout=max(0.1, grace_seconds))
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
                self.client.api.kill(container_id)       # SIGKILL once the grace period is over
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:           # 409: it is not running (any more)
                log.warning("could not stop %s: %s", container_id[:12], _describe(exc))
        except requests.exceptions.RequestException as exc:
            log.warning("could not stop %s: %s", container_id[:12], _describe(exc))

    def remove(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True, v=True)
        except docker.errors.NotFound:
            pass
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            log.warning("could not remove %s: %s", container_id[:12], _describe(exc))

    def find(self, labels: dict[str, str]) -> list[ContainerState]:
        """Containers (running or not) carrying all ``labels``."""
        filters = {"label": [MANAGED + "=true"] + [f"{k}={v}" for k, v in labels.items()]}
        try:
            # sparse: the listing only (each is inspected below, where one removed meanwhile is skipped;
            # docker-py's own inspect would fail the whole listing with "No such container")
            found = self.client.containers.list(all=True, filters=filters, sparse=True)
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            raise ContainerError(f"cannot list containers: {_describe(exc)}") from None
        states = []
        for container in found:
            state = self.state(container.id)
            if state is not None:
                states.append(state)
        return states

    def remove_tree(self, path: Path, image: str) -> None:
        """Delete a job's work directory, even when containers left root-owned files in it."""
        if not path.exists():
            return
        try:
            shutil.rmtree(path)
            return
        except PermissionError:
            pass
        # only a container can delete what a container's root created (when we are not root)
        try:
            self.client.containers.run(
                image, entrypoint=["/bin/sh", "-c", f"chown -R {os.getuid()}:{os.getgid()} /work"],
                mounts=[Mount("/work", str(path), type="bind")], remove=True, network_mode="none",
                labels={MANAGED: "true"})
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            log.warning("could not reclaim %s from root-owned files: %s", path, _describe(exc))
        shutil.rmtree(path, ignore_errors=True)


def _timestamped(raw: bytes) -> tuple[int, str]:
    """Docker prefixes each line with an RFC 3339 timestamp in nanoseconds."""
    text = raw.decode("utf-8", "replace").rstrip("\r")
    stamp, _, message = text.partition(" ")
    try:
        # 2026-11-26T10:00:00.123456789Z -> keep microseconds for fromisoformat
        head, _, frac = stamp.rstrip("Z").partition(".")
        when = dt.datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
        return int(when.timestamp() * 1000), message
    except ValueError:
        return int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000), text
