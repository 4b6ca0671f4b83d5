"""Endpoints in the domain: Create, Update, UpdateWeightsAndCapacities and Delete validate, move the
record (Creating / Updating / Deleting, ``lifecycle.ENDPOINT_MOVES``) and hand the work to the
deployer (``emulator.hosting.endpoint_runtime``), which does it in the background.
"""

from __future__ import annotations

import time
from typing import Any

from emulator.domain.families import ENDPOINT, ENDPOINT_CONFIG, MODEL
from emulator.domain.lifecycle import ENDPOINT_BUSY, EndpointStatus, endpoint_move
from emulator.domain.ports import EndpointDeployer
from emulator.domain.records import Context, Records
from emulator.errors import ValidationException


def _target(config: dict[str, Any], variants: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the runtime deploys: the config's variants (or adjusted ones) and its capture settings."""
    return {"config": config["EndpointConfigName"],
            "variants": variants if variants is not None else [dict(v) for v in config["ProductionVariants"]],
            "capture": config.get("DataCaptureConfig")}


def _with_models(models: Records, variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each variant with a snapshot of its model, taken now: as on SageMaker, an endpoint keeps
    serving (and restarting) what it was created with even if the model is deleted later."""
    for variant in variants:
        if "_model" not in variant:
            model = models.get(variant["ModelName"])     # 'Could not find model "<arn>".'
            variant["_model"] = {k: v for k, v in model.items() if k != "_smlocal"}
    return variants


def _in_progress(record: dict[str, Any]) -> ValidationException:
    return ValidationException(f'Cannot update in-progress endpoint "{record["EndpointArn"]}".')


def _begin(record: dict[str, Any], to: EndpointStatus) -> None:
    """Start an operation on an endpoint that is not busy with another one."""
    if record["EndpointStatus"] in ENDPOINT_BUSY:
        raise _in_progress(record)
    endpoint_move(record, to)
    record["LastModifiedTime"] = time.time()


def create(ctx: Context, params: dict[str, Any], deployer: EndpointDeployer) -> dict[str, Any]:
    config = Records(ctx, ENDPOINT_CONFIG).get(params["EndpointConfigName"])
    target = _target(config)
    _with_models(Records(ctx, MODEL), target["variants"])
    record = {k: v for k, v in params.items() if k not in ("Tags", "DeploymentConfig")}
    record.update(EndpointConfigName=config["EndpointConfigName"], EndpointStatus=EndpointStatus.CREATING.value,
                  _smlocal={"target": target})
    if params.get("DeploymentConfig"):
        record["_smlocal"]["deployment_config"] = params["DeploymentConfig"]
    created = Records(ctx, ENDPOINT).create(params["EndpointName"], record, params.get("Tags"))
    deployer.create(created["EndpointName"])
    return created


def delete(ctx: Context, name: str, deployer: EndpointDeployer) -> None:
    record = Records(ctx, ENDPOINT).update(name, lambda r: _begin(r, EndpointStatus.DELETING))
    deployer.delete(record["EndpointName"])


def update(ctx: Context, params: dict[str, Any], deployer: EndpointDeployer) -> dict[str, Any]:
    endpoints = Records(ctx, ENDPOINT)
    current = endpoints.get(params["EndpointName"])
    config = Records(ctx, ENDPOINT_CONFIG).get(params["EndpointConfigName"])
    variants = _with_models(Records(ctx, MODEL), [dict(v) for v in config["ProductionVariants"]])
    if params.get("RetainAllVariantProperties"):
        excluded = {p["VariantPropertyType"] for p in params.get("ExcludeRetainedVariantProperties", [])}
        running = {v["VariantName"]: v for v in deployer.current_variants(current["EndpointName"]) or []}
        for variant in variants:
            old = running.get(variant["VariantName"])
            if old is None:
                continue
            if "DesiredWeight" not in excluded:
                variant["InitialVariantWeight"] = old.get("InitialVariantWeight", 1.0)
            if "DesiredInstanceCount" not in excluded and "InitialInstanceCount" in old:
                variant["InitialInstanceCount"] = old["InitialInstanceCount"]

    def change(record: dict[str, Any]) -> None:
        if record["EndpointStatus"] == EndpointStatus.FAILED:
            raise ValidationException(
                f'Cannot update failed endpoint "{record["EndpointArn"]}": delete it and create it again.')
        _begin(record, EndpointStatus.UPDATING)
        record.setdefault("_smlocal", {})["target"] = _target(config, variants)

    record = endpoints.update(params["EndpointName"], change)
    deployer.update(record["EndpointName"])
    return record


def update_weights_and_capacities(ctx: Context, params: dict[str, Any], deployer: EndpointDeployer
                                  ) -> dict[str, Any]:
    endpoints = Records(ctx, ENDPOINT)
    current = endpoints.get(params["EndpointName"])
    running = deployer.current_variants(current["EndpointName"]) or []
    by_name = {v["VariantName"]: v for v in running}
    desired = params["DesiredWeightsAndCapacities"]
    unknown = [d["VariantName"] for d in desired if d["VariantName"] not in by_name]
    if unknown:
        raise ValidationException(
            f"The variant(s) \"[{', '.join(unknown)}]\" is/are not present in endpoint "
            f"\"{current['EndpointArn']}\".")
    weights: dict[str, float] = {}
    resize = False
    for item in desired:
        variant = by_name[item["VariantName"]]
        if "DesiredWeight" in item:
            weights[item["VariantName"]] = float(item["DesiredWeight"])
            variant["InitialVariantWeight"] = float(item["DesiredWeight"])
        if "DesiredInstanceCount" in item and item["DesiredInstanceCount"] != variant.get("InitialInstanceCount"):
            if "ServerlessConfig" in variant:
                raise ValidationException(
                    f"Variant {item['VariantName']} is serverless: change it with ServerlessUpdateConfig.")
            variant["InitialInstanceCount"] = item["DesiredInstanceCount"]
            resize = True

    def change(record: dict[str, Any]) -> None:
        if record["EndpointStatus"] != EndpointStatus.IN_SERVICE:
            raise _in_progress(record)
        _begin(record, EndpointStatus.UPDATING)
        if resize:
            private = record.setdefault("_smlocal", {})
            private["target"] = {"config": record["EndpointConfigName"], "variants": running,
                                 "capture": private.get("capture")}

    record = endpoints.update(params["EndpointName"], change)
    if resize:
        deployer.update(record["EndpointName"])
    else:
        deployer.reweight(record["EndpointName"], weights)
    return record
