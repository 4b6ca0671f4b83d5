"""``ml.*`` instance types -> the CPU and memory limits a container gets.

A container for ``ml.m5.large`` gets 2 CPUs and 8 GiB (no swap), so a job that blows its memory up
is OOM-killed here as it would be on the real instance. CPUs are capped at what this machine has
(Docker refuses more). ``SMLOCAL_INSTANCE_LIMITS=off`` removes the limits.

Sizes give vCPUs; families give GiB per vCPU (AWS's published shapes; exceptions listed).
GPU instances run on the CPU here, with their CPU/memory shape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

_SIZE_VCPUS = {
    "medium": 1, "large": 2, "xlarge": 4, "2xlarge": 8, "3xlarge": 12, "4xlarge": 16, "6xlarge": 24,
    "8xlarge": 32, "9xlarge": 36, "12xlarge": 48, "16xlarge": 64, "18xlarge": 72, "24xlarge": 96,
    "32xlarge": 128, "48xlarge": 192,
}
_GIB_PER_VCPU = {
    "t2": 4, "t3": 4, "m4": 4, "m5": 4, "m5d": 4, "m6i": 4, "m6id": 4, "m7i": 4,
    "c4": 1.875, "c5": 2, "c5d": 2, "c5n": 2.625, "c6i": 2, "c6in": 2, "c7i": 2,
    "r5": 8, "r5d": 8, "r6i": 8, "r7i": 8, "x1": 15.25,
    "p2": 15.25, "p3": 7.625, "p3dn": 8, "p4d": 12, "p5": 10.67,
    "g4dn": 4, "g5": 4, "g6": 4, "trn1": 4, "inf1": 2, "inf2": 4,
}
# shapes that do not follow the family ratio (vCPUs, GiB)
_EXCEPTIONS = {
    "t2.medium": (2, 4), "t3.medium": (2, 4), "t2.large": (2, 8), "t3.large": (2, 8),
    "c4.8xlarge": (36, 60), "c5.9xlarge": (36, 72), "c5.18xlarge": (72, 144),
    "p2.xlarge": (4, 61), "p2.8xlarge": (32, 488), "p2.16xlarge": (64, 732),
    "p3.2xlarge": (8, 61), "p3.8xlarge": (32, 244), "p3.16xlarge": (64, 488),
    "g4dn.xlarge": (4, 16), "g4dn.12xlarge": (48, 192), "g5.xlarge": (4, 16), "g5.48xlarge": (192, 768),
    "p4d.24xlarge": (96, 1152), "p5.48xlarge": (192, 2048),
}
GIB = 1024 ** 3


@dataclass(frozen=True)
class Shape:
    vcpus: int
    memory_gib: float


def shape(instance_type: str) -> Shape | None:
    """The vCPU/memory shape of ``ml.<family>.<size>``; None for names we do not know."""
    name = instance_type.removeprefix("ml.")
    if name in _EXCEPTIONS:
        return Shape(*_EXCEPTIONS[name])
    family, _, size = name.partition(".")
    if family not in _GIB_PER_VCPU or size not in _SIZE_VCPUS:
        return None
    vcpus = _SIZE_VCPUS[size]
    return Shape(vcpus, vcpus * _GIB_PER_VCPU[family])


def limits_enabled() -> bool:
    return os.environ.get("SMLOCAL_INSTANCE_LIMITS", "on").lower() not in ("off", "0", "false", "no")


def container_limits(instance_type: str, host_cpus: int | None = None) -> tuple[int | None, int | None]:
    """(nano_cpus, mem_bytes) for Docker, or (None, None) when limits are off or the type unknown."""
    found = shape(instance_type)
    if found is None or not limits_enabled():
        return None, None
    cpus = min(found.vcpus, host_cpus or os.cpu_count() or 1)
    return int(cpus * 1e9), int(found.memory_gib * GIB)
