"""Endpoints: the list; a page per endpoint with its variants and weights, instances and container
health, an invocation panel, logs, data-capture files; Delete."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from emulator.console.actions import Invocation
from emulator.console.app import Console
from emulator.console.data import S3Unavailable, families

GROUP = "/aws/sagemaker/Endpoints/"
LOG_LINES = 500
LOG_BATCH = 1000
CAPTURE_FILES = 50
TRANSITIONAL = ("Creating", "Updating", "Deleting", "SystemUpdating", "RollingBack")
CONTENT_TYPES = ("text/csv", "application/json", "application/jsonlines", "text/plain", "application/x-npy")


class EndpointPages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.data = console.data

    def base(self, name: str) -> str:
        return self.console.href(f"/endpoints/{urllib.parse.quote(name, safe='')}")

    def list_page(self, request: Request) -> Response:
        endpoints = sorted(self.data.records(families.ENDPOINT), key=lambda e: e.get("CreationTime", 0),
                           reverse=True)
        return self.console.page(request, "endpoints/list.html", section="endpoints", title="Endpoints",
                                 fragments={"table": "endpoints/_table.html"}, endpoints=endpoints,
                                 deleted=request.query_params.get("deleted", "")[:63])

    def context(self, endpoint: dict[str, Any], host: str = "", fragment: str | None = None) -> dict[str, Any]:
        name = endpoint["EndpointName"]
        config = self.data.record(families.ENDPOINT_CONFIG, endpoint.get("EndpointConfigName", ""))
        variants = []
        specs = {v["VariantName"]: v for v in (config or {}).get("ProductionVariants", [])}
        for variant in endpoint.get("ProductionVariants") or []:
            spec = specs.get(variant["VariantName"], {})
            variants.append({**variant, "ModelName": spec.get("ModelName", ""),
                             "InstanceType": spec.get("InstanceType", "serverless" if "ServerlessConfig" in spec
                                                      else "")})
        if not variants:   # Creating or Failed: what the config asks for
            variants = [{"VariantName": v["VariantName"], "ModelName": v.get("ModelName", ""),
                         "InstanceType": v.get("InstanceType", ""),
                         "DesiredWeight": v.get("InitialVariantWeight", 1.0),
                         "DesiredInstanceCount": v.get("InitialInstanceCount", 1)}
                        for v in (config or {}).get("ProductionVariants", [])]
        context = {"endpoint": endpoint, "name": name, "status": endpoint.get("EndpointStatus", ""),
                   "config": config, "variants": variants, "containers": self.data.endpoint_containers(name),
                   "transitional": endpoint.get("EndpointStatus") in TRANSITIONAL}
        if fragment in (None, "capture"):
            context["capture"] = self.capture_files(endpoint, config)
        if fragment is None:
            context.update(content_types=CONTENT_TYPES, **self.log_context(name, host),
                           tags={t["Key"]: t.get("Value", "") for t in self.data.tags(endpoint["EndpointArn"])})
        return context

    def capture_files(self, endpoint: dict[str, Any], endpoint_config: dict[str, Any] | None) -> dict[str, Any]:
        config = endpoint.get("DataCaptureConfig")
        if not config and endpoint.get("EndpointStatus") == "Creating" and endpoint_config:
            # not described until InService: what its config asks for
            asked = endpoint_config.get("DataCaptureConfig") or {}
            config = {"CaptureStatus": "Starting", "CurrentSamplingPercentage": asked.get("InitialSamplingPercentage"),
                      "DestinationS3Uri": asked.get("DestinationS3Uri", "")} if asked else None
        if not config:
            return {"enabled": False}
        uri = config.get("DestinationS3Uri", "")
        bucket, _, prefix = uri[5:].partition("/")
        prefix = "/".join(p for p in (prefix.strip("/"), endpoint["EndpointName"]) if p) + "/"
        out: dict[str, Any] = {"enabled": True, "config": config, "bucket": bucket, "prefix": prefix,
                               "objects": [], "error": ""}
        try:
            found = self.data.list_recursive(bucket, prefix, limit=2000)
            out["objects"] = list(reversed(found[-CAPTURE_FILES:]))
            out["total"] = len(found)
        except S3Unavailable as exc:
            out["error"] = str(exc)
        return out

    def log_context(self, name: str, host: str) -> dict[str, Any]:
        group = GROUP + name
        every = self.data.log_streams(group)
        host = host if host in every else ""
        streams = [host] if host else every
        events = self.data.log_tail(group, streams, LOG_LINES)
        base = self.base(name)
        return {"hosts": every, "host": host, "page_url": base, "log_url": base + "/logs",
                "download_url": base + "/log.txt", "log_after": events[-1]["id"] if events else 0,
                "log_clipped": len(events) >= LOG_LINES, "log_open": True,
                "lines": [{"id": e["id"], "ts": e["ts"], "host": e["stream"], "message": e["message"]}
                          for e in events]}

    def detail(self, request: Request, name: str, invocation: Invocation | None = None,
               form: dict[str, str] | None = None, notice: Any = None, status_code: int = 200) -> Response:
        endpoint = self.data.record(families.ENDPOINT, name)
        if endpoint is None:
            return self.console.not_found(request, "endpoints", f"No endpoint named {name}.",
                                          self.console.href("/endpoints"), "All endpoints")
        fragment = request.query_params.get("fragment")
        fragment = fragment if fragment in ("summary", "capture") else None
        context = self.context(endpoint, request.query_params.get("host", ""), fragment)
        return self.console.page(request, "endpoints/detail.html", section="endpoints", title=endpoint["EndpointName"],
                                 fragments={"summary": "endpoints/_summary.html", "capture": "endpoints/_capture.html"},
                                 invocation=invocation,
                                 form=form or {}, notice=notice, status_code=status_code, **context)

    def log_poll(self, request: Request, name: str) -> Response:
        endpoint = self.data.record(families.ENDPOINT, name)
        if endpoint is None:
            return HTMLResponse("", status_code=404)
        name = endpoint["EndpointName"]
        group = GROUP + name
        host = request.query_params.get("host", "")
        streams = [host] if host else self.data.log_streams(group)
        try:
            after = max(0, int(request.query_params.get("after", "0")))
        except ValueError:
            after = 0
        events = self.data.log_after(group, streams, after, LOG_BATCH)
        html = self.console.render(
            "logs/_lines.html", log_url=self.base(name) + "/logs", host=host, log_open=True,
            log_after=events[-1]["id"] if events else after,
            lines=[{"id": e["id"], "ts": e["ts"], "host": e["stream"], "message": e["message"]} for e in events])
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    def log_download(self, name: str) -> Response:
        from starlette.responses import StreamingResponse

        endpoint = self.data.record(families.ENDPOINT, name)
        if endpoint is None:
            return HTMLResponse("", status_code=404)
        group = GROUP + endpoint["EndpointName"]
        streams = self.data.log_streams(group)

        def body() -> Iterator[bytes]:
            for event in self.data.log_all(group, streams):
                yield f"[{event['stream']}] {event['message']}\n".encode()
        return StreamingResponse(body(), media_type="text/plain; charset=utf-8", headers={
            "content-disposition": 'attachment; filename="endpoint.log"', "cache-control": "no-store"})

    async def invoke(self, request: Request, name: str) -> Response:
        form, refused = await self.console.checked_form(request)
        if refused is not None:
            return refused
        body = form.get("body", "").encode()
        invocation = await self.console.actions.invoke(name, body, form.get("content_type", "").strip(),
                                                       form.get("accept", "").strip(), form.get("variant", "").strip())
        if request.headers.get("hx-request"):
            return HTMLResponse(self.console.render("endpoints/_invocation.html", invocation=invocation))
        return await run_in_threadpool(self.detail, request, name, invocation, form)

    async def delete(self, request: Request, name: str) -> Response:
        _, refused = await self.console.checked_form(request)
        if refused is not None:
            return refused
        outcome = await self.console.actions.delete_endpoint(name)
        if outcome.ok:
            return self.console.after_action(request, self.console.href("/endpoints", deleted=name))
        if request.headers.get("hx-request"):
            return HTMLResponse(self.console.render("_notice.html", outcome=outcome), status_code=409)
        return await run_in_threadpool(self.detail, request, name, None, None, outcome, 409)


def register(app: FastAPI, console: Console) -> None:
    pages = EndpointPages(console)

    @app.get("/endpoints", include_in_schema=False)
    def endpoint_list(request: Request) -> Response:
        return pages.list_page(request)

    @app.get("/endpoints/{name}", include_in_schema=False)
    def endpoint_detail(request: Request, name: str) -> Response:
        return pages.detail(request, name)

    @app.get("/endpoints/{name}/logs", include_in_schema=False)
    def endpoint_logs(request: Request, name: str) -> Response:
        return pages.log_poll(request, name)

    @app.get("/endpoints/{name}/log.txt", include_in_schema=False)
    def endpoint_log_download(name: str) -> Response:
        return pages.log_download(name)

    @app.post("/endpoints/{name}/invoke", include_in_schema=False)
    async def endpoint_invoke(request: Request, name: str) -> Response:
        return await pages.invoke(request, name)

    @app.post("/endpoints/{name}/delete", include_in_schema=False)
    async def endpoint_delete(request: Request, name: str) -> Response:
        return await pages.delete(request, name)
