"""Models: CreateModel, DescribeModel, ListModels, DeleteModel.

A model is a record (containers, artifacts, role); it only runs once an endpoint or a transform
job uses it, so nothing here touches Docker or S3.
"""

from __future__ import annotations

from typing import Any

from emulator.errors import ValidationException
from emulator.sagemaker.families import MODEL
from emulator.sagemaker.records import Context, Records


class ModelOps:
    def __init__(self, ctx: Context) -> None:
        self.models = Records(ctx, MODEL)

    def create_model(self, params: dict[str, Any]) -> dict[str, Any]:
        has_primary = "PrimaryContainer" in params
        containers = params.get("Containers")
        if has_primary == bool(containers):
            raise ValidationException(
                "Exactly one of PrimaryContainer or Containers must be specified."
                if has_primary else
                "Either PrimaryContainer or Containers must be specified.")
        for position, container in enumerate([params.get("PrimaryContainer")] if has_primary
                                             else containers, start=1):
            if not container.get("Image") and not container.get("ModelPackageName"):
                raise ValidationException(
                    f"Container {position} of model {params['ModelName']} has no Image: specify the "
                    "inference image URI.")
        mode = params.get("InferenceExecutionConfig", {}).get("Mode")
        if mode and not containers:
            raise ValidationException("InferenceExecutionConfig is only valid with Containers.")
        record = {k: v for k, v in params.items() if k != "Tags"}
        record.setdefault("EnableNetworkIsolation", False)
        created = self.models.create(params["ModelName"], record, params.get("Tags"))
        return {"ModelArn": created["ModelArn"]}

    def describe_model(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.models.get(params["ModelName"])

    def list_models(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.models.list(params)

    def delete_model(self, params: dict[str, Any]) -> dict[str, Any]:
        self.models.delete(params["ModelName"])
        return {}
