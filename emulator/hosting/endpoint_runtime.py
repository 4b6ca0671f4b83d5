"""The hosting runtime: creates, updates, deletes and recovers endpoint deployments in the
background and keeps the endpoint records (statuses, variants, failure reasons) as SageMaker does.

Operations on one endpoint run one at a time (a lock per endpoint), each in its own thread, so a
slow container start never blocks the API. UpdateEndpoint is blue/green: the new deployment starts
and passes /ping, traffic switches in one step, in-flight requests drain, then the old containers go.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from emulator.domain.families import ENDPOINT, MODEL
from emulator.domain.lifecycle import EndpointStatus
from emulator.domain.records import Context, Records
from emulator.hosting import capture as capture_mod
from emulator.hosting.fleet import Deployment, DeploymentFailure, Fleet, HostingServices, instance_count
from emulator.hosting.routing import Route, Router
from emulator.infra.containers import ContainerError
from emulator.state.db import DatabaseClosed

log = logging.getLogger(__name__)
IN_SERVICE, CREATING, UPDATING, DELETING, FAILED = (EndpointStatus.IN_SERVICE, EndpointStatus.CREATING,
                                                    EndpointStatus.UPDATING, EndpointStatus.DELETING,
                                                    EndpointStatus.FAILED)
DRAIN_SECONDS = 65          # the longest an invocation can run (60 s) plus a margin


class HostingRuntime:
    def __init__(self, ctx: Context, services: HostingServices) -> None:
        self.services = services
        self.endpoints = Records(ctx, ENDPOINT)
        self.fleet = Fleet(services, Records(ctx, MODEL))
        self.router = Router()
        self.live: dict[str, Deployment] = {}          # lower-cased endpoint name -> serving deployment
        self.recovering: set[str] = set()              # exact endpoint names being brought back
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    # --- API-facing entry points (return at once) -----------------------------------------------------
    def create(self, name: str) -> None:
        self._spawn(name, self._create)

    def update(self, name: str) -> None:
        self._spawn(name, self._update)

    def delete(self, name: str) -> None:
        self._spawn(name, self._delete)

    def route(self, name: str) -> Route | None:
        return self.router.get(name)

    def current_variants(self, name: str) -> list[dict[str, Any]] | None:
        deployment = self.live.get(name.lower())
        return [dict(v) for v in deployment.variants] if deployment else None

    # --- plumbing ------------------------------------------------------------------------------------
    def _spawn(self, name: str, work: Callable[[str], None]) -> threading.Thread:
        with self._guard:
            lock = self._locks.setdefault(name.lower(), threading.Lock())

        def run() -> None:
            with lock:
                try:
                    work(name)
                except DatabaseClosed:
                    log.info("endpoint %s: smlocal stopped during %s; the next start recovers it", name,
                             work.__name__)
                except Exception:
                    log.exception("endpoint %s: %s crashed", name, work.__name__)
                    self._set(name, EndpointStatus=FAILED,
                              FailureReason="smlocal failed while changing the endpoint; see the smlocal log.")

        thread = threading.Thread(target=run, name=f"endpoint-{name}", daemon=True)
        thread.start()
        return thread

    def _set(self, name: str, **fields: Any) -> dict[str, Any] | None:
        def change(record: dict[str, Any]) -> None:
            for key, value in fields.items():
                if value is None:
                    record.pop(key, None)
                else:
                    record[key] = value
            record["LastModifiedTime"] = time.time()
        record = self.endpoints.update_if_exists(name, change)
        if record is None:
            log.info("endpoint %s was deleted while smlocal changed it; not recording %s", name, sorted(fields))
        return record

    def _capture(self, name: str, config: dict[str, Any] | None) -> capture_mod.CaptureWriter | None:
        if not config or not config.get("EnableCapture", True) or self.services.s3 is None:
            return None
        return capture_mod.CaptureWriter(self.services.s3, name, config)

    def _start(self, name: str, target: dict[str, Any]) -> Deployment:
        writer = self._capture(name, target.get("capture"))
        try:
            return self.fleet.start(name, target["variants"], writer)
        except BaseException:
            if writer is not None:
                writer.close()
            raise

    def _serve(self, name: str, deployment: Deployment, config_name: str, capture: dict[str, Any] | None) -> None:
        """Make ``deployment`` the endpoint's: route traffic to it, retire the one it replaces (after its
        in-flight requests), then describe it in the record (InService)."""
        assert deployment.route is not None
        self.router.publish(deployment.route)
        old = self.live.get(name.lower())
        self.live[name.lower()] = deployment
        if old is not None and old is not deployment:
            # the record names the new containers before the old ones go, so a crash in between
            # leaves recovery something that exists
            self.endpoints.update(name, lambda r: r.setdefault("_smlocal", {}).update(
                deployment=deployment.bookkeeping(), capture=capture))
            self._retire(old)

        def change(record: dict[str, Any]) -> None:
            record.update(EndpointStatus=IN_SERVICE, EndpointConfigName=config_name,
                          ProductionVariants=describe_variants(deployment), LastModifiedTime=time.time())
            summary = capture_mod.describe(capture)
            if summary:
                record["DataCaptureConfig"] = summary
            else:
                record.pop("DataCaptureConfig", None)
            private = record.setdefault("_smlocal", {})
            private["deployment"] = deployment.bookkeeping()
            private["capture"] = capture
            private.pop("target", None)
        self.endpoints.update(name, change)

    def _retire(self, deployment: Deployment | None) -> None:
        """Wait for the requests a replaced deployment is still answering, then stop it."""
        if deployment is None:
            return
        route = deployment.route
        deadline = time.monotonic() + DRAIN_SECONDS
        while route is not None and route.inflight > 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        if route is not None and route.capture is not None:
            route.capture.close()
        self.fleet.stop(deployment, grace=5)

    # --- operations ----------------------------------------------------------------------------------
    def _target(self, name: str) -> dict[str, Any] | None:
        """What Create/Update asked for (None when the endpoint was deleted meanwhile)."""
        record = self.endpoints.find(name)
        return None if record is None else record["_smlocal"]["target"]

    def _create(self, name: str) -> None:
        target = self._target(name)
        if target is None:
            return
        try:
            deployment = self._start(name, target)
        except (DeploymentFailure, ContainerError) as exc:
            log.info("endpoint %s failed: %s", name, exc)
            self._set(name, EndpointStatus=FAILED, FailureReason=str(exc))
            return
        self._serve(name, deployment, target["config"], target.get("capture"))

    def _update(self, name: str) -> None:
        target = self._target(name)
        if target is None:
            return
        try:
            deployment = self._start(name, target)
        except (DeploymentFailure, ContainerError) as exc:
            log.info("update of endpoint %s failed: %s", name, exc)
            self._set(name, EndpointStatus=IN_SERVICE, FailureReason=f"Update failed: {exc}")
            self.endpoints.update(name, lambda r: r.get("_smlocal", {}).pop("target", None))
            return
        self._set(name, FailureReason=None)
        self._serve(name, deployment, target["config"], target.get("capture"))

    def reweight(self, name: str, weights: dict[str, float]) -> None:
        """Weights only: the same containers, a new route (no restart)."""
        deployment = self.live.get(name.lower())
        if deployment is None or deployment.route is None:
            return
        for variant in deployment.variants:
            if variant["VariantName"] in weights:
                variant["InitialVariantWeight"] = weights[variant["VariantName"]]
        deployment.route = deployment.route.with_weights(weights)
        self.router.publish(deployment.route)
        self.endpoints.update(name, lambda r: r.update(
            EndpointStatus=IN_SERVICE, ProductionVariants=describe_variants(deployment), LastModifiedTime=time.time(),
            _smlocal={**r.get("_smlocal", {}), "deployment": deployment.bookkeeping()}))

    def _delete(self, name: str) -> None:
        self.router.withdraw(name)
        deployment = self.live.pop(name.lower(), None)
        if deployment is not None:
            self._retire(deployment)
        try:
            self.fleet.remove_leftovers(name)
        except ContainerError as exc:
            log.warning("endpoint %s: leftover containers: %s", name, exc)
        self.fleet.sweep(name)
        self.fleet.remove_workspace(self.fleet.workspace(name))
        if self.endpoints.ctx.store.delete(ENDPOINT.kind, name) is None:
            log.info("endpoint %s: its record was already gone when its deletion finished", name)

    def shutdown(self) -> None:
        """The gateway stops: flush captured data; containers keep running for the next start."""
        for deployment in list(self.live.values()):
            if deployment.route is not None and deployment.route.capture is not None:
                deployment.route.capture.close()

    # --- start-up ------------------------------------------------------------------------------------
    def recover(self) -> None:
        """Endpoints a previous run left: reattach to their running containers, or start them again."""
        records = self.services_records()
        self.fleet.sweep_orphans({r["EndpointName"].lower() for r in records})
        for record in records:
            name, status = record["EndpointName"], record["EndpointStatus"]
            if status in (IN_SERVICE, UPDATING, CREATING):
                self.recovering.add(name)
            self._spawn(name, self._recover)

    def services_records(self) -> list[dict[str, Any]]:
        return self.endpoints.ctx.store.all(ENDPOINT.kind)

    def _recover(self, name: str) -> None:
        try:
            record = self.endpoints.find(name)
            if record is None:
                return
            status = record["EndpointStatus"]
            private = record.get("_smlocal", {})
            if status == DELETING:
                self._delete(name)
                return
            if status == FAILED:
                self.fleet.remove_leftovers(name)
                self.fleet.sweep(name)
                return
            previous = private.get("deployment")
            # a start or update cut short leaves model directories and networks no record names
            self.fleet.sweep(name, keep=frozenset({previous["id"]}) if previous else frozenset())
            if previous:
                capture = private.get("capture")
                found = self.fleet.reattach(name, previous, self._capture(name, capture))
                if found is None:
                    log.info("endpoint %s: containers gone, starting them again", name)
                    self.fleet.remove_leftovers(name)
                    self.fleet.sweep(name)
                    try:
                        found = self._start(name, {"variants": previous["variants"], "capture": capture})
                    except (DeploymentFailure, ContainerError) as exc:
                        self._set(name, EndpointStatus=FAILED, FailureReason=str(exc))
                        return
                else:
                    self.fleet.remove_leftovers(name, keep=frozenset({found.id}))
                self._serve(name, found, record["EndpointConfigName"], capture)
            else:
                self.fleet.remove_leftovers(name)
                if status in (IN_SERVICE, UPDATING):
                    self._set(name, EndpointStatus=FAILED, FailureReason=(
                        "smlocal stopped before it recorded this endpoint's containers; delete the endpoint "
                        "and create it again."))
                    return
            if status in (CREATING, UPDATING) and private.get("target"):
                self.endpoints.update(name, lambda r: r.update(EndpointStatus=status))
                (self._create if status == CREATING else self._update)(name)
        finally:
            self.recovering.discard(name)


def describe_variants(deployment: Deployment) -> list[dict[str, Any]]:
    out = []
    for variant in deployment.variants:
        weight = float(variant.get("InitialVariantWeight", 1.0))
        entry: dict[str, Any] = {"VariantName": variant["VariantName"],
                                 "DeployedImages": deployment.images.get(variant["VariantName"], []),
                                 "CurrentWeight": weight, "DesiredWeight": weight}
        if "ServerlessConfig" in variant:
            entry["CurrentServerlessConfig"] = variant["ServerlessConfig"]
            entry["DesiredServerlessConfig"] = variant["ServerlessConfig"]
        else:
            entry["CurrentInstanceCount"] = entry["DesiredInstanceCount"] = instance_count(variant)
        out.append(entry)
    return out
