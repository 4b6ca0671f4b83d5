"""Models in the domain: a record (containers, artifacts, role) that only runs once an endpoint or a
transform job uses it, so nothing here touches the container runtime or S3.
"""

from __future__ import annotations

from typing import Any

from emulator.domain import model_packages
from emulator.domain.families import MODEL
from emulator.domain.records import Context, Records
from emulator.errors import ValidationException


def model_containers(model: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers of a model in invocation order (a serial pipeline has several)."""
    if model.get("Containers"):
        return list(model["Containers"])
    return [model["PrimaryContainer"]]


def create(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a CreateModel request and write the record; returns it. A container naming a
    ModelPackageName takes its image and model data from the package's InferenceSpecification."""
    has_primary = "PrimaryContainer" in params
    containers = params.get("Containers")
    if has_primary == bool(containers):
        raise ValidationException(
            "Exactly one of PrimaryContainer or Containers must be specified."
            if has_primary else
            "Either PrimaryContainer or Containers must be specified.")
    listed: list[dict[str, Any]] = [params["PrimaryContainer"]] if has_primary else containers or []
    for position, container in enumerate(listed, start=1):
        if not container.get("Image") and not container.get("ModelPackageName"):
            raise ValidationException(
                f"Container {position} of model {params['ModelName']} has no Image: specify the "
                "inference image URI.")
    mode = params.get("InferenceExecutionConfig", {}).get("Mode")
    if mode and not containers:
        raise ValidationException("InferenceExecutionConfig is only valid with Containers.")
    record = {k: v for k, v in params.items() if k != "Tags"}
    if any(c.get("ModelPackageName") for c in listed):
        resolved = [r for c in listed
                    for r in (model_packages.resolve_container(ctx, c) if c.get("ModelPackageName") else [c])]
        if has_primary and len(resolved) == 1:
            record["PrimaryContainer"] = resolved[0]
        else:
            record.pop("PrimaryContainer", None)
            record["Containers"] = resolved
    record.setdefault("EnableNetworkIsolation", False)
    return Records(ctx, MODEL).create(params["ModelName"], record, params.get("Tags"))
