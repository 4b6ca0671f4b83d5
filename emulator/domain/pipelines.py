"""SageMaker Pipelines in the domain: pipelines (versions of a definition), executions and their steps.

A pipeline record holds its definition and every earlier version (``PipelineVersionId``). An execution
record (family ``pipeline-execution``, keyed by its 12-character id) holds the definition and parameter
values it started with and, in ``_smlocal.steps``, one record per step that started (what
ListPipelineExecutionSteps shows, plus the job each step created). The execution itself runs as a job
kind (``emulator.jobs.pipeline_runner``): the job runtime schedules, stops and recovers it.
"""

from __future__ import annotations

import secrets
import string
import time
from typing import Any

from emulator.domain import pipeline_definition as pd
from emulator.domain.families import PIPELINE, PIPELINE_EXECUTION
from emulator.domain.lifecycle import PIPELINE_RUN, PipelineExecutionStatus, StepStatus
from emulator.domain.listing import paginate
from emulator.domain.ports import JobLauncher
from emulator.domain.records import Context, Records
from emulator.errors import ConflictException, ResourceNotFound, ValidationException

ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 12
DEFAULT_PARALLELISM = 50       # SageMaker's default MaxParallelExecutionSteps (inferred: its quota)


def pipelines(ctx: Context) -> Records:
    return Records(ctx, PIPELINE)


def executions(ctx: Context) -> Records:
    return Records(ctx, PIPELINE_EXECUTION)


def pipeline_name(name_or_arn: str) -> str:
    """PipelineNameOrArn -> the name (the ARN holds it lower-cased; records are keyed case-insensitively)."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":pipeline/", 1)[-1].split("/", 1)[0]
    return name_or_arn


def get_pipeline(ctx: Context, name_or_arn: str) -> dict[str, Any]:
    return pipelines(ctx).get(pipeline_name(name_or_arn))


# --- pipelines -----------------------------------------------------------------------------------------
def create(ctx: Context, params: dict[str, Any], definition: str) -> dict[str, Any]:
    """CreatePipeline with the definition text (inline, or read from PipelineDefinitionS3Location)."""
    pd.parse(definition)
    now = time.time()
    record = {k: v for k, v in params.items()
              if k not in ("Tags", "ClientRequestToken", "PipelineDefinitionS3Location")}
    record.update(PipelineDefinition=definition, PipelineStatus="Active", CreatedBy={}, LastModifiedBy={},
                  PipelineDisplayName=params.get("PipelineDisplayName") or params["PipelineName"],
                  _smlocal={"versions": [{"id": 1, "definition": definition, "time": now}]})
    return pipelines(ctx).create(params["PipelineName"], record, params.get("Tags"))


def update(ctx: Context, params: dict[str, Any], definition: str | None) -> dict[str, Any]:
    """UpdatePipeline: a new definition makes a new PipelineVersionId."""
    if definition is not None:
        pd.parse(definition)

    def change(record: dict[str, Any]) -> None:
        for key in ("PipelineDisplayName", "PipelineDescription", "RoleArn", "ParallelismConfiguration"):
            if key in params:
                record[key] = params[key]
        if definition is not None:
            versions = record["_smlocal"]["versions"]
            versions.append({"id": versions[-1]["id"] + 1, "definition": definition, "time": time.time()})
            record["PipelineDefinition"] = definition
        record["LastModifiedTime"] = time.time()
    record = pipelines(ctx).update(pipeline_name(params["PipelineName"]), change)
    return {"PipelineArn": record["PipelineArn"], "PipelineVersionId": version_id(record)}


def version_id(record: dict[str, Any]) -> int:
    return int(record["_smlocal"]["versions"][-1]["id"])


def describe(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    record = get_pipeline(ctx, params["PipelineName"])
    wanted = params.get("PipelineVersionId")
    if wanted is not None:
        versions = {v["id"]: v for v in record["_smlocal"]["versions"]}
        if wanted not in versions:
            raise ResourceNotFound(f"Pipeline version {wanted} of pipeline '{record['PipelineArn']}' does not "
                                   "exist.")
        record = {**record, "PipelineDefinition": versions[wanted]["definition"]}
    return record


def list_pipelines(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    records = ctx.store.all(PIPELINE.kind)
    prefix = (params.get("PipelineNamePrefix") or "").lower()
    records = [r for r in records if r["PipelineName"].lower().startswith(prefix)]
    if "CreatedAfter" in params:
        records = [r for r in records if r["CreationTime"] > params["CreatedAfter"]]
    if "CreatedBefore" in params:
        records = [r for r in records if r["CreationTime"] < params["CreatedBefore"]]
    by_name = params.get("SortBy") == "Name"
    records.sort(key=lambda r: r["PipelineName"].lower() if by_name else (r["CreationTime"], r["PipelineName"]),
                 reverse=params.get("SortOrder", "Descending") == "Descending")
    page, token = paginate(records, params)
    out: dict[str, Any] = {"PipelineSummaries": [
        {**r, "LastExecutionTime": r["LastRunTime"]} if "LastRunTime" in r else r for r in page]}
    if token:
        out["NextToken"] = token
    return out


def delete(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """DeletePipeline: refused while an execution runs; its executions go with it."""
    record = get_pipeline(ctx, params["PipelineName"])
    mine = _executions_of(ctx, record)
    if any(PIPELINE_RUN.is_active(e) for e in mine):
        raise ConflictException(f"Pipeline '{record['PipelineArn']}' has executions in progress. Stop them before "
                                "deleting the pipeline.")
    for execution in mine:
        ctx.store.delete(PIPELINE_EXECUTION.kind, execution["_smlocal"]["id"])
    pipelines(ctx).delete(record["PipelineName"])
    return {"PipelineArn": record["PipelineArn"]}


def _executions_of(ctx: Context, pipeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in ctx.store.all(PIPELINE_EXECUTION.kind) if e["PipelineArn"] == pipeline["PipelineArn"]]


# --- executions ----------------------------------------------------------------------------------------
def execution_id(arn: str) -> str:
    return arn.rsplit("/execution/", 1)[-1] if "/execution/" in arn else ""


def get_execution(ctx: Context, arn: str) -> dict[str, Any]:
    record = executions(ctx).find(execution_id(arn)) if execution_id(arn) else None
    if record is None or record["PipelineExecutionArn"] != arn:
        raise PIPELINE_EXECUTION.not_found(arn, arn)
    return record


def _new_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def _pick_version(pipeline: dict[str, Any], wanted: int | None) -> dict[str, Any]:
    versions = pipeline["_smlocal"]["versions"]
    if wanted is None:
        return dict(versions[-1])
    for version in versions:
        if version["id"] == wanted:
            return dict(version)
    raise ResourceNotFound(f"Pipeline version {wanted} of pipeline '{pipeline['PipelineArn']}' does not exist.")


def _check_selective(ctx: Context, config: dict[str, Any], pipeline: dict[str, Any],
                     definition: pd.Definition) -> None:
    source = get_execution(ctx, config["SourcePipelineExecutionArn"])
    if source["PipelineArn"] != pipeline["PipelineArn"]:
        raise ValidationException("SelectiveExecutionConfig.SourcePipelineExecutionArn must be an execution of the "
                                  f"pipeline {pipeline['PipelineName']}.")
    if PIPELINE_RUN.is_active(source):
        raise ValidationException(f"The source pipeline execution {source['PipelineExecutionArn']} is still "
                                  "executing; select steps from an execution that has ended.")
    for selected in config.get("SelectedSteps") or []:
        if selected["StepName"] not in definition.steps:
            raise ValidationException(f"Selected step {selected['StepName']} is not a step of the pipeline.")


def start(ctx: Context, params: dict[str, Any], launcher: JobLauncher) -> dict[str, Any]:
    """StartPipelineExecution: check the parameters against the definition, write the execution
    (Executing) and launch it."""
    pipeline = get_pipeline(ctx, params["PipelineName"])
    token = params.get("ClientRequestToken")
    if token:   # a retried request (same token): the execution the first one started
        for earlier in _executions_of(ctx, pipeline):
            if earlier["_smlocal"].get("token") == token:
                return earlier
    version = _pick_version(pipeline, params.get("PipelineVersionId"))
    definition = pd.parse(version["definition"])
    parameters = pd.execution_parameters(definition, params.get("PipelineParameters") or [])
    selected: set[str] | None = None
    if params.get("SelectiveExecutionConfig"):
        _check_selective(ctx, params["SelectiveExecutionConfig"], pipeline, definition)
        selected = {s["StepName"] for s in params["SelectiveExecutionConfig"].get("SelectedSteps") or []}
    problem = definition.start_problem(selected)
    if problem:
        raise ValidationException(problem)
    ident = _new_id()
    arn = f"{pipeline['PipelineArn']}/execution/{ident}"
    now = time.time()
    record: dict[str, Any] = {
        "PipelineExecutionArn": arn, "PipelineArn": pipeline["PipelineArn"],
        "PipelineExecutionName": ident,   # the job runtime's name of the execution (no output shape shows it)
        "PipelineExecutionDisplayName": params.get("PipelineExecutionDisplayName") or f"execution-{int(now * 1000)}",
        "PipelineExecutionStatus": PipelineExecutionStatus.EXECUTING.value,
        "PipelineVersionId": version["id"], "CreatedBy": {}, "LastModifiedBy": {},
        "CreationTime": now, "LastModifiedTime": now,
        "_smlocal": {"id": ident, "pipeline": pipeline["PipelineName"], "definition": version["definition"],
                     "token": token,
                     "definition_time": version["time"], "parameters": parameters, "steps": {}}}
    for key in ("PipelineExecutionDescription", "SelectiveExecutionConfig"):
        if params.get(key):
            record[key] = params[key]
    parallelism = params.get("ParallelismConfiguration") or pipeline.get("ParallelismConfiguration")
    if parallelism:
        record["ParallelismConfiguration"] = parallelism
    experiment = definition.raw.get("PipelineExperimentConfig")
    if experiment:
        record["PipelineExperimentConfig"] = _experiment(experiment, pipeline, ident, arn, parameters)
    ctx.store.insert(PIPELINE_EXECUTION.kind, ident, arn, record, status=record["PipelineExecutionStatus"],
                     tags=None)
    pipelines(ctx).update(pipeline["PipelineName"], lambda r: r.update(LastRunTime=now))
    launcher.launch(PIPELINE_EXECUTION, ident)
    return record


def variables(execution: dict[str, Any], pipeline_name_: str) -> dict[str, Any]:
    """The ``Execution.*`` variables of an execution."""
    arn = execution["PipelineExecutionArn"]
    return {"PipelineExecutionId": execution_id(arn), "PipelineExecutionArn": arn,
            "PipelineName": pipeline_name_, "PipelineArn": execution["PipelineArn"],
            "StartDateTime": _iso(execution["CreationTime"]), "CurrentDateTime": lambda: _iso(time.time())}


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _experiment(config: dict[str, Any], pipeline: dict[str, Any], ident: str, arn: str,
                parameters: list[dict[str, str]]) -> dict[str, Any]:
    execution = {"PipelineExecutionArn": arn, "PipelineArn": pipeline["PipelineArn"], "CreationTime": time.time()}
    scope = pd.Scope({p["Name"]: p["Value"] for p in parameters},
                     variables(execution, pipeline["PipelineName"]),
                     lambda step: {}, lambda ref: {})
    try:
        return {k: str(v) for k, v in scope.evaluate(config).items()}
    except pd.EvaluationError as exc:
        raise ValidationException(f"Invalid PipelineExperimentConfig: {exc}") from None


def describe_execution(ctx: Context, arn: str) -> dict[str, Any]:
    return get_execution(ctx, arn)


def list_executions(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    pipeline = get_pipeline(ctx, params["PipelineName"])
    records = _executions_of(ctx, pipeline)
    if "CreatedAfter" in params:
        records = [r for r in records if r["CreationTime"] > params["CreatedAfter"]]
    if "CreatedBefore" in params:
        records = [r for r in records if r["CreationTime"] < params["CreatedBefore"]]
    records.sort(key=lambda r: (r["CreationTime"], r["PipelineExecutionArn"]),
                 reverse=params.get("SortOrder", "Descending") == "Descending")
    page, token = paginate(records, params)
    out: dict[str, Any] = {"PipelineExecutionSummaries": [
        {**r, "StartTime": r["CreationTime"], "PipelineExecutionFailureReason": r.get("FailureReason")}
        for r in page]}
    if token:
        out["NextToken"] = token
    return out


def steps_of(execution: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps ListPipelineExecutionSteps shows (a selective execution's steps that do not run are not)."""
    return [s for s in execution["_smlocal"]["steps"].values() if not s.get("_hidden")]


def list_steps(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """ListPipelineExecutionSteps: the steps that started, newest first by default."""
    execution = get_execution(ctx, params.get("PipelineExecutionArn", ""))
    steps = sorted(steps_of(execution), key=lambda s: (s.get("StartTime", 0), s.get("_order", 0)),
                   reverse=params.get("SortOrder", "Descending") == "Descending")
    page, token = paginate(steps, params, default_max=50)
    out: dict[str, Any] = {"PipelineExecutionSteps": page}
    if token:
        out["NextToken"] = token
    return out


def list_parameters(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    execution = get_execution(ctx, params["PipelineExecutionArn"])
    page, token = paginate(execution["_smlocal"]["parameters"], params, default_max=50)
    out: dict[str, Any] = {"PipelineParameters": page}
    if token:
        out["NextToken"] = token
    return out


def definition_for_execution(ctx: Context, arn: str) -> dict[str, Any]:
    execution = get_execution(ctx, arn)
    return {"PipelineDefinition": execution["_smlocal"]["definition"],
            "CreationTime": execution["_smlocal"]["definition_time"]}


def stop(ctx: Context, arn: str, launcher: JobLauncher) -> dict[str, Any]:
    """StopPipelineExecution: Stopping at once; the executor stops the running steps' jobs, then Stopped."""
    ident = get_execution(ctx, arn)["_smlocal"]["id"]

    def change(record: dict[str, Any]) -> None:
        PIPELINE_RUN.request_stop(record, time.time())
        record["LastModifiedTime"] = time.time()
    executions(ctx).update(ident, change)
    launcher.stop(PIPELINE_EXECUTION, ident)
    return {"PipelineExecutionArn": arn}


def retry(ctx: Context, params: dict[str, Any], launcher: JobLauncher) -> dict[str, Any]:
    """RetryPipelineExecution: a Failed or Stopped execution runs again from its failed and stopped
    steps; the steps that succeeded keep their results."""
    arn = params["PipelineExecutionArn"]
    ident = get_execution(ctx, arn)["_smlocal"]["id"]

    def change(record: dict[str, Any]) -> None:
        PIPELINE_RUN.retry(record)
        steps = record["_smlocal"]["steps"]
        for name, step in list(steps.items()):
            if step["StepStatus"] in (StepStatus.FAILED, StepStatus.STOPPED) and not step.get("_hidden"):
                record["_smlocal"].setdefault("attempts", {})[name] = int(step.get("AttemptCount", 1))
                del steps[name]
        if params.get("ParallelismConfiguration"):
            record["ParallelismConfiguration"] = params["ParallelismConfiguration"]
        record["LastModifiedTime"] = time.time()
    executions(ctx).update(ident, change)
    launcher.launch(PIPELINE_EXECUTION, ident)
    return {"PipelineExecutionArn": arn}


def update_execution(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    arn = params["PipelineExecutionArn"]
    ident = get_execution(ctx, arn)["_smlocal"]["id"]

    def change(record: dict[str, Any]) -> None:
        for key in ("PipelineExecutionDescription", "PipelineExecutionDisplayName", "ParallelismConfiguration"):
            if key in params:
                record[key] = params[key]
        record["LastModifiedTime"] = time.time()
    executions(ctx).update(ident, change)
    return {"PipelineExecutionArn": arn}


def parallelism(execution: dict[str, Any]) -> int:
    config = execution.get("ParallelismConfiguration") or {}
    return int(config.get("MaxParallelExecutionSteps") or DEFAULT_PARALLELISM)
