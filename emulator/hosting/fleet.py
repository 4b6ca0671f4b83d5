"""Starting, health-checking, reattaching and stopping the containers of one endpoint deployment.

A deployment is one endpoint config made real: for each production variant, InstanceCount
instances, each running every container of the variant's model. It is healthy when every
container answers ``GET /ping`` with 200 within the variant's startup timeout; otherwise it fails
with a reason that names the variant and carries the container's last log lines.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator import images, instances
from emulator.config import Settings
from emulator.domain.models import model_containers
from emulator.hosting import contract
from emulator.hosting.capture import CaptureWriter
from emulator.hosting.routing import Instance, Route, Target, VariantRoute
from emulator.infra import model_data
from emulator.infra.containers import ContainerError, ContainerRuntime
from emulator.infra.log_pump import LogPump
from emulator.infra.platform import PlatformEnv, platform
from emulator.infra.serving import container_address, ping
from emulator.infra.staging import StagingError
from emulator.s3.client import S3Client
from emulator.state.logs import LogStore

log = logging.getLogger(__name__)
DEFAULT_STARTUP_TIMEOUT = 240          # SageMaker: /ping must pass within 4 minutes unless the variant says
POLL_SECONDS = 0.2
TAIL_LINES = 15


def log_group(endpoint: str) -> str:
    return f"/aws/sagemaker/Endpoints/{endpoint}"


class DeploymentFailure(Exception):
    """The deployment cannot serve; ``str()`` is the endpoint's FailureReason."""


@dataclass
class Deployment:
    id: str
    endpoint: str
    variants: list[dict[str, Any]]                       # variant specs it was built from
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)   # id -> placement + hostname
    route: Route | None = None
    pumps: list[LogPump] = field(default_factory=list)
    images: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # variant -> DeployedImages

    def bookkeeping(self) -> dict[str, Any]:
        """What restart recovery needs, kept in the endpoint record."""
        return {"id": self.id, "variants": self.variants, "containers": self.containers, "images": self.images}


@dataclass
class HostingServices:
    settings: Settings
    docker: ContainerRuntime
    logs: LogStore
    s3: S3Client | None


def new_deployment_id() -> str:
    return uuid.uuid4().hex[:8]


class Fleet:
    def __init__(self, services: HostingServices, models: Any) -> None:
        self.services = services
        self.models = models           # Records of the model family

    @property
    def docker(self) -> ContainerRuntime:
        return self.services.docker

    def workspace(self, endpoint: str, deployment: str | None = None) -> Path:
        root = self.services.settings.data_dir / "endpoints" / endpoint.lower()
        return root / deployment if deployment else root

    def home_label(self) -> dict[str, str]:
        return home_label(self.services.settings.data_dir)

    # --- start -------------------------------------------------------------------------------------
    def start(self, endpoint: str, variants: list[dict[str, Any]], capture: CaptureWriter | None = None) -> Deployment:
        deployment = Deployment(new_deployment_id(), endpoint, variants)
        try:
            self._start_containers(deployment)
            self._wait_healthy(deployment)
        except BaseException:
            self.stop(deployment)
            raise
        deployment.route = self.route(deployment, capture)
        return deployment

    def _platform(self) -> PlatformEnv:
        return platform(self.services.settings)

    def _image(self, requested: str) -> str:
        resolution = images.resolve(requested)
        for candidate in resolution.candidates:
            if self.docker.image_exists(candidate):
                return candidate
        raise DeploymentFailure(resolution.missing_reason("inference"))

    @staticmethod
    def _image_environment(requested: str, used: str) -> dict[str, str]:
        return images.resolve(requested).environment(used)

    def _start_containers(self, deployment: Deployment) -> None:
        platform = self._platform()
        settings = self.services.settings
        for variant in deployment.variants:
            name = variant["VariantName"]
            model = variant.get("_model") or self.models.find(variant["ModelName"])
            if model is None:
                raise DeploymentFailure(f"Could not find model \"{self.models.arn(variant['ModelName'])}\".")
            containers = model_containers(model)
            resolved = [self._image(c["Image"]) for c in containers]
            deployment.images[name] = [
                {"SpecifiedImage": c["Image"], "ResolvedImage": image, "ResolutionTime": time.time()}
                for c, image in zip(containers, resolved, strict=True)]
            model_dirs = []
            for position, container in enumerate(containers):
                target = self.workspace(deployment.endpoint, deployment.id) / name / f"container-{position + 1}"
                if self.services.s3 is None and (container.get("ModelDataUrl") or container.get("ModelDataSource")):
                    raise DeploymentFailure("smlocal runs without an S3 server, so it cannot fetch ModelDataUrl; "
                                            "start it with `smlocal up`.")
                try:
                    if self.services.s3 is not None:
                        model_data.stage(self.services.s3, container, target, settings.archive_limits)
                    else:
                        target.mkdir(parents=True, exist_ok=True)
                except StagingError as exc:
                    raise DeploymentFailure(str(exc)) from None
                model_dirs.append(target)
            isolated = bool(model.get("EnableNetworkIsolation"))
            if isolated:
                self.docker.create_network(contract.isolation_network(deployment.endpoint, deployment.id),
                                           {**contract.labels(deployment.endpoint, deployment.id),
                                            **self.home_label()}, internal=True)
            if "ServerlessConfig" in variant:
                limits = contract.serverless_limits(variant)
            else:
                limits = instances.container_limits(variant.get("InstanceType", ""))
            for index in range(instance_count(variant)):
                for position in range(len(containers)):
                    where = contract.Placement(deployment.endpoint, deployment.id, name, index, position)
                    spec = contract.container_spec(model, where, resolved[position], model_dirs[position], platform,
                                                   limits, settings.docker_network)
                    spec.labels.update(self.home_label())
                    spec.environment = {**self._image_environment(containers[position]["Image"], resolved[position]),
                                        **spec.environment}
                    try:
                        container_id = self.docker.start(spec)
                    except ContainerError as exc:
                        raise DeploymentFailure(f"Failed to start the {contract.container_hostname(model, position)} "
                                                f"container for production variant {name}: {exc}") from None
                    deployment.containers[container_id] = {
                        "variant": name, "instance": index, "position": position,
                        "hostname": contract.container_hostname(model, position), "isolated": isolated,
                        "mode": contract.execution_mode(model)}
                    self._follow(deployment, container_id)

    def _follow(self, deployment: Deployment, container_id: str, since_ms: int | None = None) -> None:
        info = deployment.containers[container_id]
        stream = f"{info['variant']}/{container_id[:12]}"
        pump = LogPump(self.docker, container_id, self.services.logs, log_group(deployment.endpoint), stream,
                       since_ms=since_ms)
        deployment.pumps.append(pump.start())

    def address(self, container_id: str, info: dict[str, Any], endpoint: str, deployment: str) -> tuple[str, int]:
        isolated = contract.isolation_network(endpoint, deployment) if info.get("isolated") else None
        return container_address(self.docker, container_id, self.services.settings.docker_network, isolated)

    def _wait_healthy(self, deployment: Deployment) -> None:
        pending = dict(deployment.containers)
        started = time.monotonic()
        cap = self.services.settings.startup_health_check_cap
        timeouts = {v["VariantName"]: min(v.get("ContainerStartupHealthCheckTimeoutInSeconds", DEFAULT_STARTUP_TIMEOUT),
                                          cap if cap is not None else float("inf"))
                    for v in deployment.variants}
        addresses: dict[str, tuple[str, int]] = {}
        while pending:
            for cid, info in list(pending.items()):
                try:
                    if cid not in addresses:
                        addresses[cid] = self.address(cid, info, deployment.endpoint, deployment.id)
                except ContainerError:   # an exited container has no published port: say why it exited
                    raise self._exited(cid, info) or DeploymentFailure(
                        f"The {info['hostname']} container for production variant {info['variant']} has no "
                        "address smlocal can reach.") from None
                if ping(*addresses[cid]):
                    del pending[cid]
                    continue
                exited = self._exited(cid, info)
                if exited is not None:
                    raise exited
                if time.monotonic() - started > timeouts[info["variant"]]:
                    raise DeploymentFailure(
                        f"The {info['hostname']} container for production variant {info['variant']} did not pass "
                        "the ping health check. Please check CloudWatch logs for this endpoint. " + self._tail(cid))
            if pending:
                time.sleep(POLL_SECONDS)

    def _exited(self, container_id: str, info: dict[str, Any]) -> DeploymentFailure | None:
        state = self.docker.state(container_id)
        if state is not None and state.exit_code is None:
            return None
        code = state.exit_code if state else "unknown"
        return DeploymentFailure(
            f"The {info['hostname']} container for production variant {info['variant']} exited with "
            f"code {code} before passing the ping health check. " + self._tail(container_id))

    def _tail(self, container_id: str) -> str:
        lines = self.docker.tail(container_id, TAIL_LINES)
        text = "\n".join(line[-300:] for line in lines)[-1500:]
        return f"Last log lines:\n{text}" if text else "The container wrote no log lines."

    def route(self, deployment: Deployment, capture: CaptureWriter | None = None) -> Route:
        variants = []
        for variant in deployment.variants:
            name = variant["VariantName"]
            by_instance: dict[int, list[tuple[int, Target]]] = {}
            mode = "Serial"
            for cid, info in deployment.containers.items():
                if info["variant"] != name:
                    continue
                host, port = self.address(cid, info, deployment.endpoint, deployment.id)
                target = Target(cid, info["hostname"], host, port, f"{name}/{cid[:12]}")
                by_instance.setdefault(info["instance"], []).append((info["position"], target))
                mode = info.get("mode", "Serial")
            found = [Instance([t for _, t in sorted(by_instance[i])]) for i in sorted(by_instance)]
            variants.append(VariantRoute(name, float(variant.get("InitialVariantWeight", 1.0)), found, mode))
        return Route(deployment.endpoint, variants, capture)

    # --- restart recovery --------------------------------------------------------------------------
    def reattach(self, endpoint: str, private: dict[str, Any], capture: CaptureWriter | None = None
                 ) -> Deployment | None:
        """The deployment a previous run left, if all its containers still run and answer /ping."""
        deployment = Deployment(private["id"], endpoint, private["variants"],
                                dict(private.get("containers") or {}), images=private.get("images") or {})
        if not deployment.containers:
            return None
        try:
            for cid in deployment.containers:
                state = self.docker.state(cid)
                if state is None or state.status != "running":
                    return None
            for cid, info in deployment.containers.items():
                if not ping(*self.address(cid, info, endpoint, deployment.id)):
                    return None
            deployment.route = self.route(deployment, capture)
        except (ContainerError, DeploymentFailure):
            return None
        for cid in deployment.containers:
            stream = f"{deployment.containers[cid]['variant']}/{cid[:12]}"
            last = self.services.logs.last_event(log_group(endpoint), stream)
            self._follow(deployment, cid, since_ms=last[0] if last else None)
        return deployment

    # --- stop ----------------------------------------------------------------------------------------
    def stop(self, deployment: Deployment, grace: float = 5) -> None:
        """Stop and remove the deployment's containers, network and model directories."""
        threads = [threading.Thread(target=self._remove, args=(cid, grace), daemon=True)
                   for cid in deployment.containers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for pump in deployment.pumps:
            pump.join(5)
        self.docker.remove_network(contract.isolation_network(deployment.endpoint, deployment.id))
        self.remove_workspace(self.workspace(deployment.endpoint, deployment.id))

    def _remove(self, container_id: str, grace: float) -> None:
        self.docker.stop(container_id, grace)
        self.docker.remove(container_id)

    def remove_workspace(self, path: Path) -> None:
        try:
            self.docker.remove_tree(path, "smlocal/base:bookworm")
        except ContainerError:
            shutil.rmtree(path, ignore_errors=True)

    def remove_leftovers(self, endpoint: str, keep: frozenset[str] = frozenset()) -> None:
        """Containers of ``endpoint`` that no live deployment owns (a run cut short)."""
        for state in self.docker.find({**contract.labels(endpoint), **self.home_label()}):
            if state.labels.get("org.smlocal.deployment") not in keep:
                self._remove(state.id, 1)

    def sweep(self, endpoint: str, keep: frozenset[str] = frozenset()) -> None:
        """Debris of deployments of ``endpoint`` other than ``keep`` that a crash, ``smlocal down`` or an
        interrupted start left: isolation networks and model directories."""
        try:
            for name, labels in self.docker.find_networks({**contract.labels(endpoint), **self.home_label()}):
                if labels.get("org.smlocal.deployment") not in keep:
                    self.docker.remove_network(name)
        except ContainerError as exc:
            log.warning("endpoint %s: cannot sweep its networks: %s", endpoint, exc)
        root = self.workspace(endpoint)
        for entry in sorted(root.iterdir()) if root.is_dir() else ():
            if entry.name not in keep:
                log.info("endpoint %s: removing the model directory of an interrupted deployment %s",
                         endpoint, entry.name)
                self.remove_workspace(entry)

    def sweep_orphans(self, endpoints: set[str]) -> None:
        """Networks and directories of endpoints that have no record any more (all of ``endpoints``
        are the names that do, lower-cased)."""
        try:
            for name, labels in self.docker.find_networks({"org.smlocal.kind": contract.KIND, **self.home_label()}):
                if labels.get("org.smlocal.endpoint", "").lower() not in endpoints:
                    self.docker.remove_network(name)
        except ContainerError as exc:
            log.warning("cannot sweep endpoint networks: %s", exc)
        root = self.services.settings.data_dir / "endpoints"
        for entry in sorted(root.iterdir()) if root.is_dir() else ():
            if entry.name not in endpoints:
                self.remove_workspace(entry)


def home_label(data_dir: Path) -> dict[str, str]:
    """Which smlocal (by data directory) an endpoint container belongs to."""
    return {"org.smlocal.home": str(Path(data_dir).expanduser().resolve())}


def stop_all(docker: ContainerRuntime, data_dir: Path, grace: float = 5) -> int:
    """``smlocal down``: stop and remove every endpoint container (and isolation network) of the
    smlocal using ``data_dir``. The endpoints stay InService in the records and start again on the
    next ``smlocal up``."""
    found = docker.find({"org.smlocal.kind": contract.KIND, **home_label(data_dir)})
    def stop_and_remove(container_id: str) -> None:
        docker.stop(container_id, grace)
        docker.remove(container_id)

    threads = [threading.Thread(target=stop_and_remove, args=(c.id,), daemon=True) for c in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        for name, _ in docker.find_networks({"org.smlocal.kind": contract.KIND, **home_label(data_dir)}):
            docker.remove_network(name)
    except ContainerError as exc:
        log.warning("cannot remove endpoint networks: %s", exc)
    return len(found)


def instance_count(variant: dict[str, Any]) -> int:
    if "ServerlessConfig" in variant:
        return 1
    return int(variant.get("InitialInstanceCount", 1))
