"""Hyperparameter tuning jobs: a filterable, sortable list, and a page per tuning job with its
settings, counters, the trials table (each trial linking to its training job, the best highlighted)
and a chart of every ended trial's final objective; Stop.

The trials come from the same place ``ListTrainingJobsForHyperParameterTuningJob`` reads them
(``emulator.domain.tuning_trials``), so the page and the API never disagree.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from emulator.console import charts
from emulator.console.app import ENDED_EVENT, Console
from emulator.console.data import families
from emulator.domain import tuning_trials
from emulator.errors import ServiceError

SECTION = "tuning-jobs"
PAGE_SIZE = 50
ACTIVE = ("InProgress", "Stopping")
STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
SORTS = {"name": "Name", "created": "CreationTime", "status": "Status"}
FAMILY = families.TUNING_JOB


def objective_of(job: dict[str, Any]) -> dict[str, str]:
    """The tuning objective (of the first definition when there are several, as the API's trials use)."""
    config = job.get("HyperParameterTuningJobConfig") or {}
    if config.get("HyperParameterTuningJobObjective"):
        return dict(config["HyperParameterTuningJobObjective"])
    for definition in job.get("TrainingJobDefinitions") or []:
        if definition.get("TuningObjective"):
            return dict(definition["TuningObjective"])
    return {"MetricName": "", "Type": "Maximize"}


def best_value(job: dict[str, Any]) -> float | None:
    best = job.get("BestTrainingJob") or {}
    metric = best.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
    return metric.get("Value")


class TuningPages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.data = console.data

    def href(self, name: str = "", suffix: str = "") -> str:
        path = f"/{SECTION}" + (f"/{urllib.parse.quote(name, safe='')}" if name else "") + suffix
        return self.console.href(path)

    # --- the list -----------------------------------------------------------------------------------
    def list_page(self, request: Request) -> Response:
        params = request.query_params
        contains = params.get("q", "").strip()[:63]
        status = params.get("status", "") if params.get("status", "") in STATUSES else ""
        sort = params.get("sort", "created") if params.get("sort") in SORTS else "created"
        descending = params.get("order", "desc") != "asc"
        token = params.get("page") or None
        try:
            jobs, next_token, total = self.data.page(FAMILY, contains=contains, status=status, sort=SORTS[sort],
                                                     descending=descending, token=token, size=PAGE_SIZE)
        except ServiceError:   # a stale or foreign page token: the first page
            token = None
            jobs, next_token, total = self.data.page(FAMILY, contains=contains, status=status, sort=SORTS[sort],
                                                     descending=descending, size=PAGE_SIZE)
        state = {"contains": contains, "status": status, "sort": sort, "descending": descending, "token": token}
        rows = [{"job": job, "objective": objective_of(job), "best": best_value(job)} for job in jobs]
        any_jobs = total > 0 or bool(self.data.store.all(FAMILY.kind))
        return self.console.page(request, "tuning/list.html", section=SECTION, title="Tuning jobs",
                                 fragments={"table": "tuning/_table.html"}, rows=rows, state=state,
                                 next_token=next_token, total=total, any_jobs=any_jobs, statuses=STATUSES,
                                 base=self.href())

    # --- one tuning job -----------------------------------------------------------------------------
    def trials(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        """HyperParameterTrainingJobSummary of every trial, in the order they were started."""
        name = job["HyperParameterTuningJobName"]
        trials = self.data.private(FAMILY, name).get("trials", [])
        found = self.data.store.get_many(families.TRAINING_JOB.kind, [t["name"] for t in trials])
        goal = objective_of(job)
        return [tuning_trials.summary(t, found.get(t["name"].lower()), name, goal) for t in trials]

    def context(self, job: dict[str, Any]) -> dict[str, Any]:
        name = job["HyperParameterTuningJobName"]
        status = job.get("HyperParameterTuningJobStatus", "")
        goal = objective_of(job)
        summaries = self.trials(job)
        best = (job.get("BestTrainingJob") or {}).get("TrainingJobName")
        ended = [(s["TrainingJobName"], int(float(s.get("TrainingEndTime") or s["CreationTime"]) * 1000),
                  s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
                 for s in summaries if s.get("FinalHyperParameterTuningJobObjectiveMetric")]
        chart = charts.trials(goal.get("MetricName", ""), ended, int(float(job["CreationTime"]) * 1000), best,
                              goal.get("Type") == "Maximize")
        tuned = sorted({k for s in summaries for k in s["TunedHyperParameters"]})
        config = job.get("HyperParameterTuningJobConfig") or {}
        return {"job": job, "name": name, "status": status, "active": status in ACTIVE, "objective": goal,
                "trials": summaries, "tuned_names": tuned, "best": best, "chart": chart,
                "chart_points": len(ended), "config": config,
                "limits": config.get("ResourceLimits") or {},
                "definitions": job.get("TrainingJobDefinitions") or
                ([job["TrainingJobDefinition"]] if job.get("TrainingJobDefinition") else []),
                "self_url": self.href(name), "training_href": self.console.href("/training-jobs")}

    def detail(self, request: Request, name: str, notice: Any = None) -> Response:
        job = self.data.record(FAMILY, name)
        if job is None:
            return self.console.not_found(request, SECTION, f"No tuning job named {name}.", self.href(),
                                          "All tuning jobs")
        context = self.context(job)
        fragment = request.query_params.get("fragment")
        done = not context["active"] and fragment in ("summary", "trials")
        headers = {"HX-Trigger": ENDED_EVENT} if done and fragment == "summary" else None
        tags = {t["Key"]: t.get("Value", "") for t in self.data.tags(job["HyperParameterTuningJobArn"])}
        return self.console.page(request, "tuning/detail.html", section=SECTION, title=context["name"],
                                 fragments={"summary": "tuning/_summary.html", "trials": "tuning/_trials.html"},
                                 done=done, headers=headers, notice=notice, tags=tags,
                                 status_code=409 if notice is not None and not notice.ok else 200, **context)

    async def stop(self, request: Request, name: str) -> Response:
        _, refused = await self.console.checked_form(request)
        if refused is not None:
            return refused
        outcome = await self.console.actions.stop_job(FAMILY.noun, name)
        if request.headers.get("hx-request"):
            return HTMLResponse(self.console.render("_notice.html", outcome=outcome),
                                status_code=200 if outcome.ok else 409)
        return await run_in_threadpool(self.detail, request, name, outcome)


def register(app: FastAPI, console: Console) -> None:
    pages = TuningPages(console)

    def list_(request: Request) -> Response:
        return pages.list_page(request)

    def detail(request: Request, name: str) -> Response:
        return pages.detail(request, name)

    async def stop(request: Request, name: str) -> Response:
        return await pages.stop(request, name)

    app.add_api_route(f"/{SECTION}", list_, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"/{SECTION}/{{name}}", detail, methods=["GET"], include_in_schema=False)
    app.add_api_route(f"/{SECTION}/{{name}}/stop", stop, methods=["POST"], include_in_schema=False)
