"""The model registry on the wire: model package groups and model packages (Describe and
ListModelPackageGroups are the shared record handlers)."""

from __future__ import annotations

from typing import Any

from emulator.domain import model_packages
from emulator.domain.records import Context
from emulator.handler_spec import OperationTable, in_thread, on_loop


class ModelPackageOps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def operations(self) -> OperationTable:
        return {
            "CreateModelPackageGroup": in_thread(self.create_group),
            "DeleteModelPackageGroup": in_thread(self.delete_group),
            "CreateModelPackage": in_thread(self.create_package),
            "UpdateModelPackage": in_thread(self.update_package),
            "DeleteModelPackage": in_thread(self.delete_package),
            "ListModelPackages": on_loop(self.list_packages),
            "BatchDescribeModelPackage": in_thread(self.batch_describe),   # many reads
        }

    def create_group(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ModelPackageGroupArn": model_packages.create_group(self.ctx, params)["ModelPackageGroupArn"]}

    def delete_group(self, params: dict[str, Any]) -> dict[str, Any]:
        model_packages.delete_group(self.ctx, params["ModelPackageGroupName"])
        return {}

    def create_package(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ModelPackageArn": model_packages.create_package(self.ctx, params)["ModelPackageArn"]}

    def update_package(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ModelPackageArn": model_packages.update_package(self.ctx, params)["ModelPackageArn"]}

    def delete_package(self, params: dict[str, Any]) -> dict[str, Any]:
        model_packages.delete_package(self.ctx, params["ModelPackageName"])
        return {}

    def list_packages(self, params: dict[str, Any]) -> dict[str, Any]:
        return model_packages.list_packages(self.ctx, params)

    def batch_describe(self, params: dict[str, Any]) -> dict[str, Any]:
        return model_packages.batch_describe(self.ctx, params["ModelPackageArnList"])
