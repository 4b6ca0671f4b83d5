"""Endpoint configurations in the domain: records that endpoints deploy. Options that would change
what an endpoint does and that smlocal cannot do are refused, never ignored."""

from __future__ import annotations

from typing import Any

from emulator.domain.families import ENDPOINT_CONFIG, MODEL
from emulator.domain.records import Context, Records
from emulator.errors import ResourceLimitExceeded, ValidationException

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


def create(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a CreateEndpointConfig request (its models must exist) and write the record; returns it."""
    models = Records(ctx, MODEL)
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
        models.get(variant["ModelName"])  # 'Could not find model "<arn>".'
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
    return Records(ctx, ENDPOINT_CONFIG).create(params["EndpointConfigName"], record, params.get("Tags"))
