"""An in-memory ``ContainerRuntime``: job and endpoint lifecycles without Docker.

A "container" is a thread running a *behaviour* chosen by image name: a Python function that gets
the container's view of the world (``Process``: environment, the host directories behind its bind
mounts, a log, the stop signal) and returns an exit code. Serving behaviours start a real HTTP
server on loopback and publish it as port 8080, so health checks, invocations and batch transform
go through the same code as with Docker. The runtime object outlives a gateway, as Docker does, so
restart recovery (reattach by label, resume logs) is exercised too.

Behaviours the tests use are at the end: ``trains``, ``fails``, ``runs_until_stopped``, ``serves``,
``exits_before_ping``.
"""

from __future__ import annotations

import functools
import http.server
import itertools
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from emulator.infra.containers import MANAGED, ContainerError, ContainerSpec, ContainerState

KILLED = 137


@dataclass
class Process:
    """What a behaviour sees of its container."""

    spec: ContainerSpec
    container: _Container

    @property
    def env(self) -> dict[str, str]:
        return self.spec.environment

    @property
    def command(self) -> list[str]:
        return list(self.spec.entrypoint or []) + list(self.spec.command or [])

    def path(self, container_path: str) -> Path:
        """The host directory or file behind a path inside the container (its bind mounts)."""
        best = None
        for host, target, _ro in self.spec.binds:
            if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
                if best is None or len(target) > len(best[1]):
                    best = (host, target)
        if best is None:
            raise FileNotFoundError(f"{container_path} is not on a bind mount of {self.spec.name}")
        return Path(best[0]) / container_path[len(best[1]):].lstrip("/")

    def log(self, line: str) -> None:
        self.container.append_log(line)

    @property
    def signalled(self) -> threading.Event:
        """Set when the runtime sends the container its stop signal."""
        return self.container.signalled

    @property
    def signal(self) -> str | None:
        return self.container.signal

    def serve(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        """Answer HTTP on a loopback port published as 8080/tcp until the container is stopped."""
        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.container.ports.get("8080/tcp", 0)), handler)
        server.daemon_threads = True
        self.container.server = server
        self.container.ports["8080/tcp"] = server.server_address[1]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()


Behaviour = Callable[[Process], int]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Container:
    id: str
    spec: ContainerSpec
    status: str = "created"
    exit_code: int | None = None
    lines: list[tuple[int, str]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    signalled: threading.Event = field(default_factory=threading.Event)
    signal: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    server: http.server.ThreadingHTTPServer | None = None

    def has_news(self, position: int) -> bool:
        """Lines after ``position``, or the exit (called with ``changed`` held)."""
        return len(self.lines) > position or self.exit_code is not None

    def append_log(self, line: str) -> None:
        with self.changed:
            self.lines.append((int(time.time() * 1000), line))
            self.changed.notify_all()

    def exit(self, code: int) -> None:
        with self.changed:
            if self.exit_code is None:
                self.exit_code, self.status = code, "exited"
            server, self.server = self.server, None
            self.ports.clear()
            self.changed.notify_all()
        if server is not None:
            server.shutdown()
            server.server_close()


class FakeRuntime:
    """``ContainerRuntime`` in memory. ``behaviours``: image name -> behaviour."""

    def __init__(self, behaviours: dict[str, Behaviour] | None = None) -> None:
        self.behaviours: dict[str, Behaviour] = dict(behaviours or {})
        self.containers: dict[str, _Container] = {}
        self.networks: dict[str, dict[str, object]] = {}
        self._lock = threading.Lock()
        self._addresses = itertools.count(2)

    # --- images -------------------------------------------------------------------------------------
    def image_exists(self, image: str) -> bool:
        return image in self.behaviours or image == "smlocal/base:bookworm"

    # --- networks -----------------------------------------------------------------------------------
    def create_network(self, name: str, labels: dict[str, str], internal: bool = False,
                       host_access: bool = True) -> None:
        with self._lock:
            self.networks.setdefault(name, {"labels": {MANAGED: "true", **labels}, "internal": internal,
                                            "host_access": host_access})

    def remove_network(self, name: str) -> None:
        with self._lock:
            self.networks.pop(name, None)

    def find_networks(self, labels: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            found = [(name, cast(dict[str, str], info["labels"])) for name, info in self.networks.items()]
        return [(name, dict(have)) for name, have in found if all(have.get(k) == v for k, v in labels.items())]

    # --- containers ---------------------------------------------------------------------------------
    def create(self, spec: ContainerSpec) -> str:
        if spec.image not in self.behaviours:
            raise ContainerError(f"image {spec.image} is not present in the local Docker engine")
        with self._lock:
            if any(c.spec.name == spec.name for c in self.containers.values()):
                raise ContainerError(f"cannot create container {spec.name} from {spec.image}: Conflict. "
                                     "The container name is already in use")
            for network in [spec.network, *spec.extra_networks]:
                if network and network != "none" and network not in self.networks:
                    raise ContainerError(f"cannot create container {spec.name} from {spec.image}: "
                                         f"network {network} not found")
            container = _Container(uuid.uuid4().hex, spec)
            for port in spec.ports:   # published at once, like Docker: refused until something listens
                container.ports[port] = _free_port()
            # a fake container has no network address, so the port a model server would listen on is
            # reachable (on loopback) at once even when the spec publishes none (network isolation)
            container.ports.setdefault("8080/tcp", _free_port())
            self.containers[container.id] = container
        return container.id

    def start_created(self, container_id: str, spec: ContainerSpec) -> None:
        container = self._get(container_id)
        container.status = "running"
        behaviour = self.behaviours[container.spec.image]
        process = Process(container.spec, container)

        def run() -> None:
            try:
                code = behaviour(process)
            except Exception as exc:  # noqa: BLE001 - a behaviour's bug is the container's crash
                container.append_log(f"behaviour crashed: {type(exc).__name__}: {exc}")
                code = 1
            container.exit(code)

        threading.Thread(target=run, name=f"fake-{spec.name}", daemon=True).start()

    def start(self, spec: ContainerSpec) -> str:
        container_id = self.create(spec)
        self.start_created(container_id, spec)
        return container_id

    def _get(self, container_id: str) -> _Container:
        container = self.containers.get(container_id)
        if container is None:
            raise ContainerError(f"container {container_id[:12]} disappeared")
        return container

    def state(self, container_id: str) -> ContainerState | None:
        container = self.containers.get(container_id)
        if container is None:
            return None
        return ContainerState(container.id, container.spec.name, container.status, container.exit_code, False,
                              {MANAGED: "true", **container.spec.labels})

    def addresses(self, container_id: str) -> tuple[dict[str, int], dict[str, str]]:
        container = self._get(container_id)
        # no network addresses: a fake container listens on a loopback port published as 8080/tcp,
        # so the gateway reaches it there, isolated (internal network) or not
        return dict(container.ports), {}

    def wait(self, container_id: str, timeout: float | None = None) -> int:
        container = self._get(container_id)
        with container.changed:
            if not container.changed.wait_for(lambda: container.exit_code is not None, timeout):
                raise TimeoutError(container_id)
            assert container.exit_code is not None
            return container.exit_code

    def logs(self, container_id: str, since: float | None = None) -> Iterator[tuple[int, str]]:
        container = self.containers.get(container_id)
        if container is None:
            return
        position = 0
        while True:
            with container.changed:
                container.changed.wait_for(functools.partial(container.has_news, position), 0.2)
                batch = container.lines[position:]
                position = len(container.lines)
                ended = container.exit_code is not None
            for timestamp, line in batch:
                if since is None or timestamp >= since * 1000:
                    yield timestamp, line
            if ended and position == len(container.lines):
                return

    def tail(self, container_id: str, lines: int = 20) -> list[str]:
        container = self.containers.get(container_id)
        return [line for _, line in container.lines[-lines:]] if container else []

    def stop(self, container_id: str, grace_seconds: float, signal: str | None = None) -> None:
        container = self.containers.get(container_id)
        if container is None or container.exit_code is not None:
            return
        container.signal = signal or "SIGTERM"
        container.signalled.set()
        with container.changed:
            container.changed.wait_for(lambda: container.exit_code is not None, max(0.1, grace_seconds))
        container.exit(KILLED)   # SIGKILL once the grace period is over (no-op if it exited)

    def remove(self, container_id: str) -> None:
        container = self.containers.pop(container_id, None)
        if container is not None and container.exit_code is None:
            container.signalled.set()
            container.exit(KILLED)

    def find(self, labels: dict[str, str]) -> list[ContainerState]:
        found = []
        for container in list(self.containers.values()):
            state = self.state(container.id)
            if state is not None and all(state.labels.get(k) == v for k, v in labels.items()):
                found.append(state)
        return found

    def remove_tree(self, path: Path, image: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    # --- for tests ----------------------------------------------------------------------------------
    def kill(self, container_id: str) -> None:
        """The container dies on its own (as ``docker kill`` from outside would do)."""
        self._get(container_id).exit(KILLED)

    def managed(self) -> list[str]:
        """Names of the containers that exist (debris checks)."""
        return sorted(c.spec.name for c in self.containers.values())


# --- behaviours ------------------------------------------------------------------------------------------
def trains(lines: tuple[str, ...] = ("epoch 1", "loss=0.5"), files: dict[str, str] | None = None,
           pause: float = 0.0) -> Behaviour:
    """Logs ``lines``, writes ``files`` under /opt/ml/model, exits 0."""
    def behaviour(process: Process) -> int:
        for line in lines:
            process.log(line)
            if pause:
                time.sleep(pause)
        for name, text in (files or {"model.txt": "trained"}).items():
            (process.path("/opt/ml/model") / name).write_text(text)
        return 0
    return behaviour


def fails(code: int = 3, failure: str | None = "ValueError: bad input", lines: tuple[str, ...] = ("starting",)
          ) -> Behaviour:
    """Logs, writes /opt/ml/output/failure (unless None), exits ``code``."""
    def behaviour(process: Process) -> int:
        for line in lines:
            process.log(line)
        if failure is not None:
            (process.path("/opt/ml/output") / "failure").write_text(failure)
        return code
    return behaviour


def runs_until_stopped(release: threading.Event | None = None, on_stop: str = "saved on SIGTERM") -> Behaviour:
    """Logs a heartbeat until stopped (writes /opt/ml/model/<on_stop>.txt when it can, exits 0) or until
    ``release`` is set (exits 0 without the file)."""
    def behaviour(process: Process) -> int:
        process.log("running")
        while not process.signalled.wait(0.05):
            if release is not None and release.is_set():
                process.log("released")
                return 0
        process.log(f"got {process.signal}")
        try:
            (process.path("/opt/ml/model") / "stopped.txt").write_text(on_stop)
        except FileNotFoundError:
            pass
        return 0
    return behaviour


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._reply(200, b"", "text/plain")
        elif self.path == "/execution-parameters":
            self._reply(404, b"", "text/plain")
        else:
            self._reply(404, b"", "text/plain")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if body.startswith(b"status:"):
            _, code, text = body.decode().split(":", 2)
            self._reply(int(code), text.encode(), "text/plain")
            return
        self._reply(200, b"echo:" + body, self.headers.get("Content-Type") or "application/octet-stream")


def serves(handler: type[http.server.BaseHTTPRequestHandler] = _EchoHandler) -> Behaviour:
    """A model server: /ping answers 200, /invocations echoes ``echo:<body>`` (``status:<code>:<text>``
    answers that status). Runs until stopped."""
    def behaviour(process: Process) -> int:
        process.log("model server listening on 8080")
        process.serve(handler)
        process.signalled.wait()
        process.log("model server stopping")
        return 0
    return behaviour


def exits_before_ping(code: int = 1, line: str = "ImportError: no module named model") -> Behaviour:
    def behaviour(process: Process) -> int:
        process.log(line)
        return code
    return behaviour
