"""Endpoint configurations: Create/Describe/List/DeleteEndpointConfig (records; endpoints deploy them)."""

from __future__ import annotations

from typing import Any

from emulator.errors import ResourceLimitExceeded, ValidationException
from emulator.sagemaker.families import ENDPOINT_CONFIG, MODEL
from emulator.sagemaker.records import Context, Records

MAX_INSTANCES = 16
# options that would change what an endpoint does, which smlocal cannot do: refused, never ignored
UNSUPPORTED = {
    "AsyncInferenceConfig": "asynchronous inference (use a real-time endpoint and InvokeEndpoint)",
    "ShadowProductionVariants": "shadow variants",
    "ExplainerConfig": "SageMaker Clarify explainers",
}


def _check_supported(params: dict[str, Any]) -> None:
    for option, what in UNSUPPORTED.items():
        if params.get(option):
            raise ValidationException(f"{option} is not supported by smlocal: it does not emulate {what}.")
    capture = params.get("DataCaptureConfig")
    if capture and not capture["DestinationS3Uri"].startswith("s3://"):
        raise ValidationException("DataCaptureConfig.DestinationS3Uri must be an s3:// URI.")
    for variant in params["ProductionVariants"]:
        if variant.get("AcceleratorType"):
            raise ValidationException(
                f"Production variant {variant['VariantName']} sets AcceleratorType: smlocal does not emulate "
                "Elastic Inference accelerators.")
        if variant.get("InitialInstanceCount", 0) > MAX_INSTANCES:
            raise ResourceLimitExceeded(
                f"smlocal runs at most {MAX_INSTANCES} instances per production variant (each is a container on "
                f"this machine); variant {variant['VariantName']} asks for {variant['InitialInstanceCount']}.")


class EndpointConfigOps:
    def __init__(self, ctx: Context) -> None:
        self.configs = Records(ctx, ENDPOINT_CONFIG)
        self.models = Records(ctx, MODEL)

    def create_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        variants = params["ProductionVariants"]
        _check_supported(params)
        seen: set[str] = set()
        for variant in variants:
            name = variant["VariantName"]
            if name.lower() in seen:
                raise ValidationException(
                    f"Variant names must be unique within an endpoint configuration: {name} is used "
                    "more than once.")
            seen.add(name.lower())
            if "ModelName" not in variant:
                raise ValidationException(f"ModelName is required for production variant {name}.")
            self.models.get(variant["ModelName"])  # 'Could not find model "<arn>".'
            serverless = "ServerlessConfig" in variant
            if not serverless and ("InstanceType" not in variant or "InitialInstanceCount" not in variant):
                raise ValidationException(
                    f"Production variant {name} needs InstanceType and InitialInstanceCount "
                    "(or a ServerlessConfig).")
            if serverless and ("InstanceType" in variant or "InitialInstanceCount" in variant):
                raise ValidationException(
                    f"Production variant {name} sets ServerlessConfig together with InstanceType or "
                    "InitialInstanceCount; use one or the other.")
            variant.setdefault("InitialVariantWeight", 1.0)
        record = {k: v for k, v in params.items() if k != "Tags"}
        created = self.configs.create(params["EndpointConfigName"], record, params.get("Tags"))
        return {"EndpointConfigArn": created["EndpointConfigArn"]}

    def describe_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.configs.get(params["EndpointConfigName"])

    def list_endpoint_configs(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.configs.list(params)

    def delete_endpoint_config(self, params: dict[str, Any]) -> dict[str, Any]:
        self.configs.delete(params["EndpointConfigName"])
        return {}
