"""The model registry: model package groups with their versions, and each version's approval status,
which the page changes (approve / reject / back to pending) through ``UpdateModelPackage``, so an
approval here is exactly what the SDK or the CLI would do. Unversioned packages are listed too.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from emulator.console.app import Console
from emulator.console.data import families

SECTION = "model-registry"
APPROVALS = ("Approved", "Rejected", "PendingManualApproval")


def q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


class RegistryPages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.data = console.data

    def packages_of(self, group: str) -> list[dict[str, Any]]:
        found = [p for p in self.data.records(families.MODEL_PACKAGE)
                 if (p.get("ModelPackageGroupName") or "").lower() == group.lower()]
        return sorted(found, key=lambda p: p.get("ModelPackageVersion", 0), reverse=True)

    def list_page(self, request: Request) -> Response:
        every = self.data.records(families.MODEL_PACKAGE)
        rows = []
        for group in sorted(self.data.records(families.MODEL_PACKAGE_GROUP),
                            key=lambda g: g.get("CreationTime", 0), reverse=True):
            name = group["ModelPackageGroupName"].lower()
            versions = [p for p in every if (p.get("ModelPackageGroupName") or "").lower() == name]
            latest = max(versions, key=lambda p: p.get("ModelPackageVersion", 0)) if versions else None
            counts = {status: sum(1 for p in versions if p.get("ModelApprovalStatus") == status)
                      for status in APPROVALS}
            rows.append({"group": group, "versions": len(versions), "latest": latest, "counts": counts})
        unversioned = sorted((p for p in every if not p.get("ModelPackageGroupName")),
                             key=lambda p: p.get("CreationTime", 0), reverse=True)
        return self.console.page(request, "registry/list.html", section=SECTION, title="Model registry",
                                 fragments={"table": "registry/_groups.html"}, rows=rows, unversioned=unversioned)

    def group_page(self, request: Request, name: str, notice: Any = None) -> Response:
        group = self.data.record(families.MODEL_PACKAGE_GROUP, name)
        if group is None:
            return self.console.not_found(request, SECTION, f"No model package group named {name}.",
                                          self.console.href("/model-registry"), "Model registry")
        packages = self.packages_of(group["ModelPackageGroupName"])
        return self.console.page(
            request, "registry/group.html", section=SECTION, title=group["ModelPackageGroupName"],
            fragments={"packages": "registry/_packages.html"}, group=group, packages=packages, notice=notice,
            approvals=APPROVALS, status_code=409 if notice is not None and not notice.ok else 200,
            tags={t["Key"]: t.get("Value", "") for t in self.data.tags(group["ModelPackageGroupArn"])})

    async def approve(self, request: Request, name: str, version: str) -> Response:
        form, refused = await self.console.checked_form(request)
        if refused is not None:
            return refused
        status = form.get("status", "")
        record = self.data.record(families.MODEL_PACKAGE, f"{name}/{version}")
        arn = (record or {}).get("ModelPackageArn") or f"{name}/{version}"
        outcome = await self.console.actions.set_approval(arn, status)
        if request.headers.get("hx-request") and outcome.ok:
            return self.console.after_action(request, self.console.href(f"/model-registry/{q(name)}"))
        if request.headers.get("hx-request"):
            return HTMLResponse(self.console.render("_notice.html", outcome=outcome), status_code=409)
        return await run_in_threadpool(self.group_page, request, name, outcome)


def register(app: FastAPI, console: Console) -> None:
    pages = RegistryPages(console)

    def list_(request: Request) -> Response:
        return pages.list_page(request)

    def group(request: Request, name: str) -> Response:
        return pages.group_page(request, name)

    async def approve(request: Request, name: str, version: str) -> Response:
        return await pages.approve(request, name, version)

    app.add_api_route("/model-registry", list_, methods=["GET"], include_in_schema=False)
    app.add_api_route("/model-registry/{name}", group, methods=["GET"], include_in_schema=False)
    app.add_api_route("/model-registry/{name}/{version}/approval", approve, methods=["POST"], include_in_schema=False)
