"""What a container's network costs Docker at start (issue 19: the no-op job's floor).

Alternates bare docker-py creates of the no-op image on the default bridge and on a user-defined
network (plain, with an alias, with the job limits, with ``extra_hosts``), and prints the median time
of ``start`` and of ``wait`` after it per kind. A user-defined network makes Docker 20.10 set up its
embedded DNS server inside the container's namespace at every start (a re-exec and 11 ``iptables``
runs); the default bridge has none.

    python -m bench.docker_start_ab [--rounds 8]

Not part of ``python -m bench``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import docker

from bench import images

NETWORK = "smlocal-bench-start-ab"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    images.build_all()
    client = docker.from_env()
    times: dict[str, list[tuple[float, float]]] = {}

    def one(kind: str, **kwargs) -> None:
        container = client.containers.create(images.TRAIN, "train", **kwargs)
        try:
            started = time.perf_counter()
            container.start()
            ran = time.perf_counter()
            container.wait()
            times.setdefault(kind, []).append((ran - started, time.perf_counter() - ran))
        finally:
            container.remove(force=True)

    network = client.networks.create(NETWORK, driver="bridge")
    limits = {"nano_cpus": 2_000_000_000, "mem_limit": 8 << 30, "memswap_limit": 8 << 30, "pids_limit": 4096}
    try:
        for _ in range(args.rounds):
            one("default bridge", network="bridge")
            one("user-defined network", network=NETWORK)
            one("user-defined + alias", network=NETWORK, hostname="algo-1",
                networking_config={NETWORK: client.api.create_endpoint_config(aliases=["algo-1"])})
            one("user-defined + limits", network=NETWORK, **limits)
            one("user-defined + extra_hosts", network=NETWORK, extra_hosts={"host.docker.internal": "host-gateway"})
    finally:
        network.remove()
    for kind, pairs in times.items():
        starts = [1000 * s for s, _ in pairs]
        waits = [1000 * w for _, w in pairs]
        print(f"{kind:28s} start {statistics.median(starts):5.0f} ms ({min(starts):.0f}-{max(starts):.0f}), "
              f"wait after it {statistics.median(waits):4.0f} ms")


if __name__ == "__main__":
    main()
