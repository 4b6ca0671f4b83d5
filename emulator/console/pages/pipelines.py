"""Pipelines: the list, a pipeline (its definition drawn as a graph, parameters, versions and
executions), and an execution (the graph with every step's live status, each step linking to the job
it ran; the steps table with metadata, cache hits and failures; the parameters it ran with); Stop.

Executions and steps come from the same records ListPipelineExecutions and
ListPipelineExecutionSteps serve (``emulator.domain.pipelines``).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from emulator.console import dag
from emulator.console.app import ENDED_EVENT, Console
from emulator.console.data import families, public
from emulator.domain import pipeline_definition, pipelines
from emulator.errors import ServiceError

SECTION = "pipelines"
ACTIVE = ("Executing", "Stopping")
EXECUTIONS_SHOWN = 100
# the console section of each record kind a step can create
SECTIONS = {"training-job": "training-jobs", "processing-job": "processing-jobs",
            "transform-job": "transform-jobs", "model": "models", "hyper-parameter-tuning-job": "tuning-jobs"}


def q(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def step_types(definition_text: str) -> list[pipeline_definition.Step]:
    """The definition's steps in order (an unparseable definition, impossible once stored: none)."""
    try:
        return list(pipeline_definition.parse(definition_text).steps.values())
    except ServiceError:
        return []


class PipelinePages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.data = console.data

    # --- reads --------------------------------------------------------------------------------------
    def executions_of(self, pipeline: dict[str, Any]) -> list[dict[str, Any]]:
        found = [e for e in self.data.records(families.PIPELINE_EXECUTION)
                 if e.get("PipelineArn") == pipeline["PipelineArn"]]
        return sorted(found, key=lambda e: e.get("CreationTime", 0), reverse=True)

    def step_link(self, step: dict[str, Any]) -> str:
        ref = (step.get("_smlocal") or {}).get("ref") or {}
        kind, name = ref.get("kind", ""), ref.get("name", "")
        if kind in SECTIONS and name:
            return self.console.href(f"/{SECTIONS[kind]}/{q(name)}")
        if kind == families.MODEL_PACKAGE.kind and "/" in name:
            group = name.split("/", 1)[0]
            return self.console.href(f"/model-registry/{q(group)}")
        return ""

    def graph(self, definition_text: str, steps: dict[str, dict[str, Any]]) -> Any:
        nodes = []
        for step in step_types(definition_text):
            record = steps.get(step.name) or {}
            note = ""
            if (record.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn"):
                note = "cache hit"
            outcome = ((record.get("Metadata") or {}).get("Condition") or {}).get("Outcome")
            if outcome:
                note = f"outcome {outcome}"
            nodes.append(dag.Node(step.name, step.type, set(step.depends), record.get("StepStatus", ""),
                                  self.step_link(record) if record else "", note))
        return dag.render(nodes)

    # --- pages --------------------------------------------------------------------------------------
    def list_page(self, request: Request) -> Response:
        rows = []
        for pipeline in sorted(self.data.records(families.PIPELINE), key=lambda p: p.get("CreationTime", 0),
                               reverse=True):
            executions = self.executions_of(pipeline)
            rows.append({"pipeline": pipeline, "count": len(executions),
                         "latest": executions[0] if executions else None})
        return self.console.page(request, "pipelines/list.html", section=SECTION, title="Pipelines",
                                 fragments={"table": "pipelines/_table.html"}, rows=rows)

    def pipeline_page(self, request: Request, name: str) -> Response:
        pipeline = self.data.record(families.PIPELINE, name)
        if pipeline is None:
            return self.console.not_found(request, SECTION, f"No pipeline named {name}.",
                                          self.console.href("/pipelines"), "All pipelines")
        definition = pipeline.get("PipelineDefinition", "")
        parsed = step_types(definition)
        executions = self.executions_of(pipeline)
        private = self.data.private(families.PIPELINE, name)
        parameters: list[dict[str, Any]] = []
        try:
            parameters = list(pipeline_definition.parse(definition).parameters.values())
        except ServiceError:
            pass
        return self.console.page(
            request, "pipelines/pipeline.html", section=SECTION, title=pipeline["PipelineName"],
            fragments={"executions": "pipelines/_executions.html"}, pipeline=pipeline, graph=self.graph(definition, {}),
            steps=parsed, parameters=parameters, executions=executions[:EXECUTIONS_SHOWN],
            execution_count=len(executions), versions=private.get("versions", []),
            tags={t["Key"]: t.get("Value", "") for t in self.data.tags(pipeline["PipelineArn"])})

    def execution_page(self, request: Request, name: str, ident: str, notice: Any = None) -> Response:
        stored = self.data.store.get(families.PIPELINE_EXECUTION.kind, ident)
        pipeline = self.data.record(families.PIPELINE, name)
        if stored is None or pipeline is None or stored.get("PipelineArn") != pipeline["PipelineArn"]:
            return self.console.not_found(request, SECTION, f"Pipeline {name} has no execution {ident}.",
                                          self.console.href(f"/pipelines/{q(name)}"), f"Pipeline {name}")
        execution = public(stored) or {}
        private = stored.get("_smlocal") or {}
        steps = {s["StepName"]: s for s in pipelines.steps_of(stored)}
        types = {s.name: s.type for s in step_types(private.get("definition", ""))}
        ordered = sorted(steps.values(), key=lambda s: (s.get("StartTime", 0), s.get("_order", 0)))
        rows = [{"step": public(s), "type": types.get(s["StepName"], ""), "link": self.step_link(s)} for s in ordered]
        status = execution.get("PipelineExecutionStatus", "")
        active = status in ACTIVE
        fragment = request.query_params.get("fragment")
        done = not active and fragment == "live"
        return self.console.page(
            request, "pipelines/execution.html", section=SECTION,
            title=execution.get("PipelineExecutionDisplayName", ident),
            fragments={"live": "pipelines/_execution_live.html"}, done=done,
            headers={"HX-Trigger": ENDED_EVENT} if done else None, notice=notice,
            status_code=409 if notice is not None and not notice.ok else 200,
            pipeline=pipeline, execution=execution, ident=ident, status=status, active=active,
            graph=self.graph(private.get("definition", ""), steps), rows=rows,
            parameters=private.get("parameters", []),
            self_url=self.console.href(f"/pipelines/{q(name)}/executions/{q(ident)}"))

    async def stop(self, request: Request, name: str, ident: str) -> Response:
        _, refused = await self.console.checked_form(request)
        if refused is not None:
            return refused
        stored = self.data.store.get(families.PIPELINE_EXECUTION.kind, ident)
        arn = (stored or {}).get("PipelineExecutionArn", f"{name}/execution/{ident}")
        outcome = await self.console.actions.stop_pipeline_execution(arn)
        if request.headers.get("hx-request"):
            return HTMLResponse(self.console.render("_notice.html", outcome=outcome),
                                status_code=200 if outcome.ok else 409)
        return await run_in_threadpool(self.execution_page, request, name, ident, outcome)


def register(app: FastAPI, console: Console) -> None:
    pages = PipelinePages(console)

    def list_(request: Request) -> Response:
        return pages.list_page(request)

    def pipeline(request: Request, name: str) -> Response:
        return pages.pipeline_page(request, name)

    def execution(request: Request, name: str, ident: str) -> Response:
        return pages.execution_page(request, name, ident)

    async def stop(request: Request, name: str, ident: str) -> Response:
        return await pages.stop(request, name, ident)

    app.add_api_route("/pipelines", list_, methods=["GET"], include_in_schema=False)
    app.add_api_route("/pipelines/{name}", pipeline, methods=["GET"], include_in_schema=False)
    app.add_api_route("/pipelines/{name}/executions/{ident}", execution, methods=["GET"], include_in_schema=False)
    app.add_api_route("/pipelines/{name}/executions/{ident}/stop", stop, methods=["POST"], include_in_schema=False)
