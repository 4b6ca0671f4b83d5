"""Helpers for the hosting tests: models, configs and endpoints through boto3, and waiting."""

from __future__ import annotations

import io
import tarfile
import time

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def model_tarball(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def deploy(sm, name: str, image: str, env: dict | None = None, model_data: str | None = None,
           variants: list[dict] | None = None, wait: bool = True, **config) -> dict:
    container = {"Image": image, "Environment": env or {}}
    if model_data:
        container["ModelDataUrl"] = model_data
    sm.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=ROLE)
    sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=variants or [
        {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
         "InstanceType": "ml.m5.large"}], **config)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return wait_endpoint(sm, name) if wait else sm.describe_endpoint(EndpointName=name)


def wait_endpoint(sm, name: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sm.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] not in ("Creating", "Updating", "SystemUpdating"):
            return described
        time.sleep(0.1)
    raise AssertionError(f"{name} still {described['EndpointStatus']}")


def delete(sm, name: str) -> None:
    sm.delete_endpoint(EndpointName=name)
    sm.get_waiter("endpoint_deleted").wait(EndpointName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
