"""Training, processing and transform jobs: filterable, sortable lists; a page per job (status
timeline, configuration, artifacts with downloads, resources, FailureReason, the logs of every host
following live, a chart per metric); Stop.

One table of job kinds drives all three; a kind with its own fields has its own detail template.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse

from emulator.console import charts
from emulator.console.app import ENDED_EVENT, Console
from emulator.console.data import Family, S3Unavailable, families
from emulator.errors import ServiceError

PAGE_SIZE = 50
LOG_LINES = 500           # shown when a job page opens; the rest is in the full-log download
LOG_BATCH = 1000          # at most this many new lines per poll
ACTIVE = ("InProgress", "Stopping")
STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
SORTS = {"name": "Name", "created": "CreationTime", "status": "Status"}


@dataclass(frozen=True)
class JobKind:
    section: str              # URL segment and nav section
    family: Family
    label: str                # "Training job"
    log_group: str
    start_field: str
    end_field: str
    template: str
    hint: str                 # what to run when there is none yet

    @property
    def noun(self) -> str:
        return self.family.noun

    @property
    def plural(self) -> str:
        return self.label + "s"


KINDS = (
    JobKind("training-jobs", families.TRAINING_JOB, "Training job", "/aws/sagemaker/TrainingJobs",
            "TrainingStartTime", "TrainingEndTime", "jobs/training.html",
            "python examples/timeseries/pipeline.py"),
    JobKind("processing-jobs", families.PROCESSING_JOB, "Processing job", "/aws/sagemaker/ProcessingJobs",
            "ProcessingStartTime", "ProcessingEndTime", "jobs/processing.html",
            "python examples/text/pipeline.py"),
    JobKind("transform-jobs", families.TRANSFORM_JOB, "Transform job", "/aws/sagemaker/TransformJobs",
            "TransformStartTime", "TransformEndTime", "jobs/transform.html",
            "python examples/text/pipeline.py"),
)
BY_SECTION = {kind.section: kind for kind in KINDS}


def status_of(kind: JobKind, job: dict[str, Any]) -> str:
    return job.get(kind.family.status_field or "", "")


def runtime_seconds(kind: JobKind, job: dict[str, Any], now: float | None = None) -> float | None:
    start = job.get(kind.start_field)
    if start is None:
        return None
    end = job.get(kind.end_field) or (now if now is not None else time.time())
    return max(0.0, float(end) - float(start))


def instances(kind: JobKind, job: dict[str, Any]) -> tuple[str, int]:
    if kind.family is families.TRAINING_JOB:
        res = job.get("ResourceConfig") or {}
        return res.get("InstanceType", ""), res.get("InstanceCount", 1)
    if kind.family is families.PROCESSING_JOB:
        res = (job.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        return res.get("InstanceType", ""), res.get("InstanceCount", 1)
    res = job.get("TransformResources") or {}
    return res.get("InstanceType", ""), res.get("InstanceCount", 1)


def timeline(kind: JobKind, job: dict[str, Any]) -> list[dict[str, Any]]:
    """SecondaryStatusTransitions for training jobs; for the others, the steps their timestamps show."""
    if job.get("SecondaryStatusTransitions"):
        return [dict(t) for t in job["SecondaryStatusTransitions"]]
    steps = [{"Status": "Created", "StartTime": job.get("CreationTime"), "EndTime": job.get(kind.start_field),
              "StatusMessage": "Waiting for a job slot, the image and the input data"}]
    if job.get(kind.start_field):
        steps.append({"Status": "Running", "StartTime": job[kind.start_field], "EndTime": job.get(kind.end_field),
                      "StatusMessage": "Containers running"})
    status = status_of(kind, job)
    if status not in ACTIVE:
        end = job.get(kind.end_field) or job.get("LastModifiedTime")
        steps.append({"Status": status, "StartTime": end, "EndTime": end, "StatusMessage": ""})
    return steps


_STREAM_SUFFIX = re.compile(r"-\d{9,}(?=/|$)")


def host_of(job_name: str, stream: str) -> str:
    """``job/algo-1-1733200000`` -> ``algo-1``; ``job/algo-1-1733200000/data-log`` -> ``algo-1/data-log``."""
    rest = stream[len(job_name) + 1:] if stream.lower().startswith(job_name.lower() + "/") else stream
    return _STREAM_SUFFIX.sub("", rest)


class JobPages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.data = console.data

    # --- lists --------------------------------------------------------------------------------------
    def list_page(self, request: Request, kind: JobKind) -> Response:
        params = request.query_params
        contains = params.get("q", "").strip()[:63]
        status = params.get("status", "")
        status = status if status in STATUSES else ""
        sort = params.get("sort", "created") if params.get("sort") in SORTS else "created"
        descending = params.get("order", "desc") != "asc"
        token = params.get("page") or None
        try:
            jobs, next_token, total = self.data.page(kind.family, contains=contains, status=status,
                                                     sort=SORTS[sort], descending=descending, token=token,
                                                     size=PAGE_SIZE)
        except ServiceError:   # a stale or foreign page token: start again from the first page
            token = None
            jobs, next_token, total = self.data.page(kind.family, contains=contains, status=status,
                                                     sort=SORTS[sort], descending=descending, size=PAGE_SIZE)
        state = {"contains": contains, "status": status, "sort": sort, "descending": descending, "token": token}
        everything = len(self.data.store.all(kind.family.kind)) if not total else total
        rows = [{"job": job, "status": status_of(kind, job), "runtime": runtime_seconds(kind, job),
                 "instances": instances(kind, job)} for job in jobs]
        return self.console.page(request, "jobs/list.html", section=kind.section, title=kind.plural,
                                 fragments={"table": "jobs/_table.html"}, kind=kind, rows=rows, state=state,
                                 next_token=next_token, total=total, any_jobs=everything > 0,
                                 statuses=STATUSES)

    # --- one job ------------------------------------------------------------------------------------
    def context(self, kind: JobKind, job: dict[str, Any], fragment: str | None = None,
                host: str = "") -> dict[str, Any]:
        """What the page (or only the fragment ``fragment``) shows."""
        name = job[kind.family.name_field]
        status = status_of(kind, job)
        context: dict[str, Any] = {"kind": kind, "job": job, "name": name, "status": status,
                                   "active": status in ACTIVE, "runtime": runtime_seconds(kind, job),
                                   "timeline": timeline(kind, job), "instances": instances(kind, job)}
        if fragment in (None, "artifacts"):
            context["artifacts"] = self.artifacts(kind, job)
        if fragment in (None, "metrics"):
            context.update(self.metric_context(kind, job))
        if fragment is None:
            context["tags"] = {t["Key"]: t.get("Value", "") for t in self.data.tags(job[kind.family.arn_field])}
            context.update(self.log_context(kind, job, host))
        return context

    def artifacts(self, kind: JobKind, job: dict[str, Any]) -> list[dict[str, Any]]:
        """Output locations, each with the objects found there (downloadable)."""
        name = job[kind.family.name_field]
        places: list[tuple[str, str]] = []
        if kind.family is families.TRAINING_JOB:
            output = (job.get("OutputDataConfig") or {}).get("S3OutputPath", "")
            if output:
                places.append(("Output (model.tar.gz, output.tar.gz)", output.rstrip("/") + f"/{name}/"))
            checkpoint = (job.get("CheckpointConfig") or {}).get("S3Uri")
            if checkpoint:
                places.append(("Checkpoints", checkpoint))
        elif kind.family is families.PROCESSING_JOB:
            for output in (job.get("ProcessingOutputConfig") or {}).get("Outputs", []):
                uri = (output.get("S3Output") or {}).get("S3Uri")
                if uri:
                    places.append((f"Output {output.get('OutputName', '')}", uri))
        else:
            uri = (job.get("TransformOutput") or {}).get("S3OutputPath")
            if uri:
                places.append(("Output", uri))
        found = []
        for label, uri in places:
            entry: dict[str, Any] = {"label": label, "uri": uri, "objects": [], "error": ""}
            bucket, _, prefix = uri[5:].partition("/") if uri.startswith("s3://") else ("", "", "")
            entry["bucket"] = bucket
            if bucket:
                try:
                    entry["objects"] = self.data.list_recursive(bucket, prefix, limit=50)
                except S3Unavailable as exc:
                    entry["error"] = str(exc)
            found.append(entry)
        return found

    def detail(self, request: Request, kind: JobKind, name: str, notice: Any = None) -> Response:
        job = self.data.record(kind.family, name)
        if job is None:
            return self.console.not_found(request, kind.section, f"No {kind.label.lower()} named {name}.",
                                          self.console.href(f"/{kind.section}"), f"All {kind.plural.lower()}")
        fragment = request.query_params.get("fragment")
        fragment = fragment if fragment in ("summary", "metrics", "artifacts") else None
        context = self.context(kind, job, fragment, request.query_params.get("host", ""))
        done = not context["active"] and fragment in ("summary", "metrics", "artifacts")
        ended = {"HX-Trigger": ENDED_EVENT} if done and fragment == "summary" else None
        return self.console.page(request, kind.template, section=kind.section, title=name, headers=ended,
                                 fragments={"summary": "jobs/_summary.html", "metrics": "jobs/_metrics.html",
                                            "artifacts": "jobs/_artifacts.html"},
                                 done=done, notice=notice,
                                 status_code=409 if notice is not None and not notice.ok else 200, **context)

    # --- logs ---------------------------------------------------------------------------------------
    def streams(self, kind: JobKind, name: str, host: str = "") -> list[str]:
        streams = self.data.log_streams(kind.log_group, f"{name}/")
        return [s for s in streams if not host or host_of(name, s) == host]

    def log_context(self, kind: JobKind, job: dict[str, Any], host: str) -> dict[str, Any]:
        name = job[kind.family.name_field]
        every = self.data.log_streams(kind.log_group, f"{name}/")
        hosts = sorted({host_of(name, s) for s in every})
        host = host if host in hosts else ""
        streams = [s for s in every if not host or host_of(name, s) == host]
        events = self.data.log_tail(kind.log_group, streams, LOG_LINES)
        base = self.console.href(f"/{kind.section}/{urllib.parse.quote(name, safe='')}")
        return {"hosts": hosts, "host": host, "lines": self.lines(name, events), "page_url": base,
                "log_url": base + "/logs", "download_url": base + "/log.txt",
                "log_after": events[-1]["id"] if events else 0, "log_clipped": len(events) >= LOG_LINES,
                "log_open": status_of(kind, job) in ACTIVE}

    def lines(self, name: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": e["id"], "ts": e["ts"], "host": host_of(name, e["stream"]), "message": e["message"]}
                for e in events]

    def log_poll(self, request: Request, kind: JobKind, name: str) -> Response:
        """New lines after ``after`` and the element that fetches the next ones (until the job ended
        and nothing more came)."""
        job = self.data.record(kind.family, name)
        if job is None:
            return HTMLResponse("", status_code=404)
        try:
            after = max(0, int(request.query_params.get("after", "0")))
        except ValueError:
            after = 0
        host = request.query_params.get("host", "")
        events = self.data.log_after(kind.log_group, self.streams(kind, name, host), after, LOG_BATCH)
        open_ = status_of(kind, job) in ACTIVE or len(events) == LOG_BATCH
        log_url = self.console.href(f"/{kind.section}/{urllib.parse.quote(name, safe='')}/logs")
        html = self.console.render("logs/_lines.html", log_url=log_url, host=host,
                                   lines=self.lines(name, events),
                                   log_after=events[-1]["id"] if events else after, log_open=open_)
        return HTMLResponse(html, headers={"cache-control": "no-store"})

    def log_download(self, kind: JobKind, name: str) -> Response:
        job = self.data.record(kind.family, name)
        if job is None:
            return HTMLResponse("", status_code=404)
        name = job[kind.family.name_field]
        streams = self.streams(kind, name)

        def body() -> Iterator[bytes]:
            for event in self.data.log_all(kind.log_group, streams):
                yield f"[{host_of(name, event['stream'])}] {event['message']}\n".encode()
        return StreamingResponse(body(), media_type="text/plain; charset=utf-8", headers={
            "content-disposition": f'attachment; filename="{_safe_filename(name)}.log"',
            "cache-control": "no-store"})

    # --- metrics ------------------------------------------------------------------------------------
    def metric_context(self, kind: JobKind, job: dict[str, Any]) -> dict[str, Any]:
        series = self.data.metric_series(job[kind.family.arn_field])
        metrics = []
        for index, (metric, points) in enumerate(sorted(series.items()), start=1):
            # time runs from the job's first datapoint of any metric, so the curves use the whole width
            origin = min(p[0][0] for p in series.values())
            metrics.append({"name": metric, "points": points, "last": points[-1][1],
                            "svg": charts.render(metric, points, origin, index), "start_ms": origin})
        definitions = (job.get("AlgorithmSpecification") or {}).get("MetricDefinitions") or []
        return {"metrics": metrics, "metric_definitions": definitions}

    # --- Stop ---------------------------------------------------------------------------------------
    async def stop(self, request: Request, kind: JobKind, name: str) -> Response:
        _, refused = await self.console.checked_form(request)
        if refused is not None:
            return refused
        outcome = await self.console.actions.stop_job(kind.noun, name)
        if request.headers.get("hx-request"):
            return HTMLResponse(self.console.render("_notice.html", outcome=outcome),
                                status_code=200 if outcome.ok else 409)
        return await run_in_threadpool(self.detail, request, kind, name, outcome)


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[:100] or "job"


def register(app: FastAPI, console: Console) -> None:
    pages = JobPages(console)
    for kind in KINDS:
        _routes(app, pages, kind)


def _routes(app: FastAPI, pages: JobPages, kind: JobKind) -> None:
    def list_(request: Request) -> Response:
        return pages.list_page(request, kind)

    def detail(request: Request, name: str) -> Response:
        return pages.detail(request, kind, name)

    def logs(request: Request, name: str) -> Response:
        return pages.log_poll(request, kind, name)

    def download(name: str) -> Response:
        return pages.log_download(kind, name)

    async def stop(request: Request, name: str) -> Response:
        return await pages.stop(request, kind, name)

    base = f"/{kind.section}"
    app.add_api_route(base, list_, methods=["GET"], include_in_schema=False)
    app.add_api_route(base + "/{name}", detail, methods=["GET"], include_in_schema=False)
    app.add_api_route(base + "/{name}/logs", logs, methods=["GET"], include_in_schema=False)
    app.add_api_route(base + "/{name}/log.txt", download, methods=["GET"], include_in_schema=False)
    app.add_api_route(base + "/{name}/stop", stop, methods=["POST"], include_in_schema=False)
