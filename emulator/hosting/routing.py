"""Where an endpoint's traffic goes: variants (weighted), their instances (round robin) and, on
each instance, the containers of the model (one, or a serial pipeline).

A :class:`Route` is immutable once published: UpdateEndpoint builds a new one and swaps it in
atomically (``Router.publish``), so an invocation always sees one consistent deployment.
"""

from __future__ import annotations

import itertools
import random
import threading
from dataclasses import dataclass, field

from emulator.hosting.capture import CaptureWriter


@dataclass(frozen=True)
class Target:
    """One running container: how to reach it and how it is named in logs and errors."""

    container_id: str
    hostname: str          # ContainerHostname, or "primary" for a single-container model
    host: str
    port: int
    log_stream: str


@dataclass
class Instance:
    containers: list[Target]        # in pipeline order


@dataclass
class VariantRoute:
    name: str
    weight: float
    instances: list[Instance]
    mode: str = "Serial"            # InferenceExecutionConfig.Mode: Serial or Direct
    _turn: itertools.count = field(default_factory=itertools.count, repr=False)

    def next_instance(self) -> Instance:
        return self.instances[next(self._turn) % len(self.instances)]


@dataclass
class Route:
    endpoint: str
    variants: list[VariantRoute]
    capture: CaptureWriter | None = None
    inflight: int = 0

    def variant(self, name: str | None) -> VariantRoute | None:
        """The named variant, or one drawn by weight (all weights 0: none)."""
        if name is not None:
            return next((v for v in self.variants if v.name == name), None)
        live = [v for v in self.variants if v.weight > 0 and v.instances]
        if not live:
            return None
        if len(live) == 1:
            return live[0]
        return random.choices(live, weights=[v.weight for v in live])[0]

    def with_weights(self, weights: dict[str, float]) -> Route:
        variants = [VariantRoute(v.name, weights.get(v.name, v.weight), v.instances, v.mode) for v in self.variants]
        return Route(self.endpoint, variants, self.capture)


class Router:
    """Endpoint name (case-sensitive, as InvokeEndpoint matches it) -> the live route."""

    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}
        self._lock = threading.Lock()

    def get(self, endpoint: str) -> Route | None:
        return self._routes.get(endpoint)

    def publish(self, route: Route) -> Route | None:
        """Make ``route`` live; returns the route it replaced."""
        with self._lock:
            old = self._routes.get(route.endpoint)
            self._routes[route.endpoint] = route
            return old

    def withdraw(self, endpoint: str) -> Route | None:
        with self._lock:
            return self._routes.pop(endpoint, None)

    def names(self) -> list[str]:
        return list(self._routes)
