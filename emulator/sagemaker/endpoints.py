"""Endpoints: CreateEndpoint, DescribeEndpoint, UpdateEndpoint, UpdateEndpointWeightsAndCapacities,
DeleteEndpoint (ListEndpoints is shared).

The API validates and writes the record (Creating / Updating / Deleting) and hands the work to the
hosting runtime, which runs it in the background (``emulator.hosting.runtime``).
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from emulator.errors import ValidationException
from emulator.sagemaker.families import ENDPOINT, ENDPOINT_CONFIG, MODEL
from emulator.sagemaker.records import Context, Records

IN_SERVICE, CREATING, UPDATING, DELETING, FAILED = "InService", "Creating", "Updating", "Deleting", "Failed"


class Hosting(Protocol):
    def create(self, name: str) -> None: ...
    def update(self, name: str) -> None: ...
    def delete(self, name: str) -> None: ...
    def reweight(self, name: str, weights: dict[str, float]) -> None: ...
    def current_variants(self, name: str) -> list[dict[str, Any]] | None: ...


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


class EndpointOps:
    def __init__(self, ctx: Context, hosting: Hosting) -> None:
        self.endpoints = Records(ctx, ENDPOINT)
        self.configs = Records(ctx, ENDPOINT_CONFIG)
        self.models = Records(ctx, MODEL)
        self.hosting = hosting

    def _in_progress(self, record: dict[str, Any]) -> ValidationException:
        return ValidationException(f'Cannot update in-progress endpoint "{record["EndpointArn"]}".')

    def create_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        config = self.configs.get(params["EndpointConfigName"])
        target = _target(config)
        _with_models(self.models, target["variants"])
        record = {k: v for k, v in params.items() if k not in ("Tags", "DeploymentConfig")}
        record.update(EndpointConfigName=config["EndpointConfigName"], EndpointStatus=CREATING,
                      _smlocal={"target": target})
        if params.get("DeploymentConfig"):
            record["_smlocal"]["deployment_config"] = params["DeploymentConfig"]
        created = self.endpoints.create(params["EndpointName"], record, params.get("Tags"))
        self.hosting.create(created["EndpointName"])
        return {"EndpointArn": created["EndpointArn"]}

    def describe_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.endpoints.get(params["EndpointName"])

    def delete_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        def change(record: dict[str, Any]) -> None:
            if record["EndpointStatus"] in (CREATING, UPDATING, DELETING):
                raise self._in_progress(record)
            record["EndpointStatus"] = DELETING
            record["LastModifiedTime"] = time.time()

        record = self.endpoints.update(params["EndpointName"], change)
        self.hosting.delete(record["EndpointName"])
        return {}

    def update_endpoint(self, params: dict[str, Any]) -> dict[str, Any]:
        current = self.endpoints.get(params["EndpointName"])
        config = self.configs.get(params["EndpointConfigName"])
        variants = _with_models(self.models, [dict(v) for v in config["ProductionVariants"]])
        if params.get("RetainAllVariantProperties"):
            excluded = {p["VariantPropertyType"] for p in params.get("ExcludeRetainedVariantProperties", [])}
            running = {v["VariantName"]: v for v in self.hosting.current_variants(current["EndpointName"]) or []}
            for variant in variants:
                old = running.get(variant["VariantName"])
                if old is None:
                    continue
                if "DesiredWeight" not in excluded:
                    variant["InitialVariantWeight"] = old.get("InitialVariantWeight", 1.0)
                if "DesiredInstanceCount" not in excluded and "InitialInstanceCount" in old:
                    variant["InitialInstanceCount"] = old["InitialInstanceCount"]

        def change(record: dict[str, Any]) -> None:
            if record["EndpointStatus"] in (CREATING, UPDATING, DELETING):
                raise self._in_progress(record)
            if record["EndpointStatus"] == FAILED:
                raise ValidationException(
                    f'Cannot update failed endpoint "{record["EndpointArn"]}": delete it and create it again.')
            record["EndpointStatus"] = UPDATING
            record["LastModifiedTime"] = time.time()
            record.setdefault("_smlocal", {})["target"] = _target(config, variants)

        record = self.endpoints.update(params["EndpointName"], change)
        self.hosting.update(record["EndpointName"])
        return {"EndpointArn": record["EndpointArn"]}

    def update_endpoint_weights_and_capacities(self, params: dict[str, Any]) -> dict[str, Any]:
        current = self.endpoints.get(params["EndpointName"])
        running = self.hosting.current_variants(current["EndpointName"]) or []
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
            if record["EndpointStatus"] != IN_SERVICE:
                raise self._in_progress(record)
            record["EndpointStatus"] = UPDATING
            record["LastModifiedTime"] = time.time()
            if resize:
                private = record.setdefault("_smlocal", {})
                private["target"] = {"config": record["EndpointConfigName"], "variants": running,
                                     "capture": private.get("capture")}

        record = self.endpoints.update(params["EndpointName"], change)
        if resize:
            self.hosting.update(record["EndpointName"])
        else:
            self.hosting.reweight(record["EndpointName"], weights)
        return {"EndpointArn": record["EndpointArn"]}
