"""The pipeline executor: runs one pipeline execution's steps as their inputs become available.

A job kind that starts no containers (``pooled=False``, like tuning): it runs on its own thread, creates
each step's job through the same domain create functions as the API (``domain.processing.create``,
``training.create``, ``transform.create``, ``tuning.create``, ``models.create``,
``model_packages.create_package``, ``endpoint_configs.create``, ``endpoints.create`` / ``update``) and polls
the jobs' and endpoints' records. Every step change is one committed
write to the execution record, so a gateway restart resumes from the step records: a step whose job
was created goes on waiting for that job (which the job runtime reattached like any job), a step
that had not created its job yet creates it under the name it recorded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from emulator.domain import (
    endpoint_configs,
    endpoints,
    model_packages,
    models,
    pipelines,
    processing,
    training,
    transform,
    tuning,
)
from emulator.domain import pipeline_definition as pd
from emulator.domain.families import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    MODEL,
    MODEL_PACKAGE,
    MODEL_PACKAGE_GROUP,
    PIPELINE_EXECUTION,
    PROCESSING_JOB,
    TRAINING_JOB,
    TRANSFORM_JOB,
    TUNING_JOB,
)
from emulator.domain.lifecycle import BY_FAMILY, PIPELINE_RUN, STEP_ACTIVE, EndpointStatus, JobStatus, StepStatus
from emulator.domain.records import Records
from emulator.errors import ServiceError
from emulator.infra import s3_objects
from emulator.jobs.container_job import JobServices
from emulator.jobs.scheduler import JobControl
from emulator.state.db import DatabaseClosed

log = logging.getLogger(__name__)

POLL = 0.25
STEP_FAILURE = "Step failure: One or multiple steps failed."

# step type -> (job family, the domain's create function, its metadata member)
JOB_STEPS: dict[str, tuple[str, Callable[..., dict[str, Any]], str]] = {
    "Processing": (PROCESSING_JOB.kind, processing.create, "ProcessingJob"),
    "Training": (TRAINING_JOB.kind, training.create, "TrainingJob"),
    "Transform": (TRANSFORM_JOB.kind, transform.create, "TransformJob"),
    "Tuning": (TUNING_JOB.kind, tuning.create, "TuningJob"),
}
STOPPERS: dict[str, Callable[..., Any]] = {
    PROCESSING_JOB.kind: processing.stop, TRAINING_JOB.kind: training.stop,
    TRANSFORM_JOB.kind: transform.stop, TUNING_JOB.kind: tuning.stop,
}
# what an Endpoint step passes on to UpdateEndpoint when its endpoint exists
UPDATE_MEMBERS = ("EndpointName", "EndpointConfigName", "RetainAllVariantProperties",
                  "ExcludeRetainedVariantProperties", "DeploymentConfig", "RetainDeploymentConfig")
FAMILIES = {f.kind: f for f in (PROCESSING_JOB, TRAINING_JOB, TRANSFORM_JOB, TUNING_JOB, MODEL, MODEL_PACKAGE)}


class StepFailed(Exception):
    """A step cannot go on; ``str()`` is its FailureReason. ``kind``: the RetryPolicies exception type."""

    def __init__(self, reason: str, kind: str | None = None) -> None:
        super().__init__(reason)
        self.kind = kind


def job_name(execution_id: str, step: str, max_length: int = 63) -> str:
    """``pipelines-<execution id>-<step>-<random>``, as SageMaker names a step's job (cut to the limit)."""
    clean = re.sub(r"[^A-Za-z0-9-]+", "-", step).strip("-") or "step"
    suffix = secrets.token_hex(5)
    head = f"pipelines-{execution_id}-"
    room = max_length - len(head) - len(suffix) - 1
    return f"{head}{clean[:room].strip('-')}-{suffix}"


def failure_kind(reason: str) -> str | None:
    """The RetryPolicies exception type of a job's FailureReason (SageMaker's names)."""
    if reason.startswith("InternalServerError"):
        return "SageMaker.JOB_INTERNAL_ERROR"
    if reason.startswith("CapacityError"):
        return "SageMaker.CAPACITY_ERROR"
    return None


def service_error_kind(exc: ServiceError) -> str | None:
    if exc.code == "ResourceLimitExceeded":
        return "SageMaker.RESOURCE_LIMIT"
    if exc.code in ("ThrottlingException", "Throttling"):
        return "Step.THROTTLING"
    if exc.status >= 500:
        return "Step.SERVICE_FAULT"
    return None


def retry_delay(policies: list[dict[str, Any]], kind: str | None, attempt: int, first_start: float,
                now: float) -> float | None:
    """Seconds to wait before attempt ``attempt + 1`` of a step whose attempt ``attempt`` failed with ``kind``,
    or None when no policy retries it (SageMaker's IntervalSeconds * BackoffRate ** n, MaxAttempts,
    ExpireAfterMin)."""
    if kind is None:
        return None
    for policy in policies:
        if kind not in (policy.get("ExceptionType") or []):
            continue
        if attempt > int(policy.get("MaxAttempts", 5)):
            return None
        expire = policy.get("ExpireAfterMin")
        if expire is not None and now - first_start > float(expire) * 60:
            return None
        return float(policy.get("IntervalSeconds", 1)) * float(policy.get("BackoffRate", 2.0)) ** (attempt - 1)
    return None


_DURATION = re.compile(r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def expire_seconds(value: str | None) -> float | None:
    """CacheConfig.ExpireAfter (ISO 8601 duration: P30D, PT1H, P1Y2M) in seconds; None: never expires."""
    if not value:
        return None
    match = _DURATION.match(value)
    if match is None or value in ("P", "PT"):
        raise StepFailed(f"CacheConfig.ExpireAfter {value!r} is not an ISO 8601 duration.")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return float(dt.timedelta(days=years * 365 + months * 30 + weeks * 7 + days, hours=hours, minutes=minutes,
                              seconds=seconds).total_seconds())


def cache_key(step: pd.Step, arguments: Any) -> str:
    return hashlib.sha256(json.dumps([step.type, arguments], sort_keys=True, default=str).encode()).hexdigest()


class PipelineRun:
    def __init__(self, services: JobServices, ident: str, control: JobControl) -> None:
        self.services, self.ident, self.control = services, ident, control
        self.ctx = services.ctx
        self.records = Records(self.ctx, PIPELINE_EXECUTION)
        self.execution = self.records.get(ident)
        private = self.execution["_smlocal"]
        self.definition = pd.parse(private["definition"])
        values = {p["Name"]: pd.coerce(self.definition.parameters[p["Name"]]["Type"], p["Value"], p["Name"])
                  for p in private["parameters"]}
        self.variables = pipelines.variables(self.execution, private["pipeline"])
        self.scope = pd.Scope(values, self.variables, self.properties, self.property_file)
        # cache keys: Execution.* variables stay as written (they differ in every execution)
        self.cache_scope = pd.Scope(values, {k: f"{{Execution.{k}}}" for k in self.variables},
                                    self.properties, self.property_file)
        launcher = services.launcher
        assert launcher is not None, "the job runtime sets JobServices.launcher"
        self.launcher = launcher
        self.stopping = False

    # --- record --------------------------------------------------------------------------------------
    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        return dict(self.execution["_smlocal"]["steps"])

    def update(self, change: Callable[[dict[str, Any]], Any]) -> None:
        def with_time(record: dict[str, Any]) -> None:
            change(record)
            record["LastModifiedTime"] = time.time()
        self.execution = self.records.update(self.ident, with_time)

    def set_step(self, name: str, **fields: Any) -> None:
        def change(record: dict[str, Any]) -> None:
            steps = record["_smlocal"]["steps"]
            step = steps.setdefault(name, {"StepName": name, "_order": len(steps)})
            private = fields.pop("_smlocal", None)
            step.update({k: v for k, v in fields.items() if v is not None})
            if private:
                step.setdefault("_smlocal", {}).update(private)
        self.update(change)

    # --- the whole run -------------------------------------------------------------------------------
    def run(self) -> None:
        if not PIPELINE_RUN.is_active(self.execution):
            return
        try:
            self.prepare_selective()
            while not self.tick():
                self.control.stop.wait(POLL)
        except DatabaseClosed:
            log.info("pipeline execution %s: smlocal stopped while it ran; the next start resumes it", self.ident)
        except Exception as exc:
            log.exception("pipeline execution %s failed inside smlocal", self.ident)
            self.finish(JobStatus.FAILED, f"InternalServerError: smlocal failed while running the pipeline "
                                          f"execution ({type(exc).__name__}: {exc}); see the smlocal log.")

    def tick(self) -> bool:
        """One look at the steps; True when the execution has ended."""
        self.execution = self.records.get(self.ident)
        if self.control.stop.is_set() or PIPELINE_RUN.is_stopping(self.execution):
            self.stopping = True
        for name, step in self.steps.items():
            if step["StepStatus"] in STEP_ACTIVE:
                self.advance(name, step)
        active = [n for n, s in self.steps.items() if s["StepStatus"] in STEP_ACTIVE]
        failed = any(s["StepStatus"] == StepStatus.FAILED for s in self.steps.values())
        if self.stopping:
            if not active:
                self.finish(JobStatus.STOPPED)
                return True
            return False
        if not failed:
            room = pipelines.parallelism(self.execution) - len(active)
            for name in self.ready()[:max(0, room)]:
                self.start_step(name)
                active.append(name)
        if not active:
            self.finish(JobStatus.FAILED if failed else JobStatus.COMPLETED, STEP_FAILURE if failed else None)
            return True
        return False

    # --- the graph ---------------------------------------------------------------------------------
    def step_state(self, name: str) -> str:
        """done / blocked (will never run) / waiting / started."""
        recorded = self.steps.get(name)
        if recorded is not None:
            status = recorded["StepStatus"]
            return "done" if status == StepStatus.SUCCEEDED else "blocked" if status in (
                StepStatus.FAILED, StepStatus.STOPPED) else "started"
        step = self.definition.steps[name]
        if step.parent is not None:
            parent = self.steps.get(step.parent)
            if parent is not None and parent["StepStatus"] == StepStatus.SUCCEEDED:
                taken = parent.get("Metadata", {}).get("Condition", {}).get("Outcome") == "True"
                if taken != step.branch:
                    return "blocked"
        if any(self.step_state(d) == "blocked" for d in step.depends):
            return "blocked"
        return "waiting"

    def ready(self) -> list[str]:
        return [name for name, step in self.definition.steps.items()
                if name not in self.steps and self.step_state(name) == "waiting"
                and all(self.step_state(d) == "done" for d in step.depends)]

    # --- expressions' sources ------------------------------------------------------------------------
    def properties(self, name: str) -> dict[str, Any]:
        step = self.steps.get(name)
        if step is None or step["StepStatus"] != StepStatus.SUCCEEDED:
            raise pd.EvaluationError(f"Step {name} has not succeeded, so its properties are not available.")
        private = step.get("_smlocal", {})
        if "outcome" in private:
            return {"Outcome": private["outcome"]}
        ref = private.get("ref")
        if ref is None:
            return {}
        record = self.ctx.store.get(ref["kind"], ref["name"])
        if record is None:
            raise pd.EvaluationError(f"The {ref['kind']} {ref['name']} of step {name} no longer exists.")
        record = {k: v for k, v in record.items() if k != "_smlocal"}
        if ref["kind"] == TUNING_JOB.kind:
            record["TrainingJobSummaries"] = self.best_first(record)
        return record

    def best_first(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """A tuning step's TrainingJobSummaries, best objective first (what TopKModel and
        ``get_top_model_s3_uri`` index)."""
        maximize = tuning.objective(record)["Type"] == "Maximize"
        stored = self.ctx.store.get(TUNING_JOB.kind, record["HyperParameterTuningJobName"]) or record
        summaries = tuning.trial_summaries(self.ctx, stored)
        scored = [s for s in summaries if _objective_value(s) is not None]
        rest = [s for s in summaries if _objective_value(s) is None]
        scored.sort(key=lambda s: float(_objective_value(s) or 0.0), reverse=maximize)
        return scored + rest

    def property_file(self, ref: pd.PropertyFileRef) -> Any:
        step = self.definition.steps.get(ref.step)
        files = {f.get("PropertyFileName"): f for f in (step.spec.get("PropertyFiles") or [])} if step else {}
        spec = files.get(ref.name)
        if spec is None:
            raise pd.EvaluationError(f"Step {ref.step} has no property file {ref.name}.")
        outputs = self.properties(ref.step).get("ProcessingOutputConfig", {}).get("Outputs", [])
        uri = next((o["S3Output"]["S3Uri"] for o in outputs if o.get("OutputName") == spec.get("OutputName")), None)
        if uri is None:
            raise pd.EvaluationError(f"Step {ref.step} has no output {spec.get('OutputName')} for property file "
                                     f"{ref.name}.")
        location = f"{uri.rstrip('/')}/{spec.get('FilePath', '').lstrip('/')}"
        try:
            return json.loads(s3_objects.read_uri(self.services.s3, location))
        except s3_objects.ObjectUnreadable as exc:
            raise pd.EvaluationError(f"Property file {ref.name} of step {ref.step}: {exc}") from None
        except ValueError as exc:
            raise pd.EvaluationError(f"Property file {ref.name} of step {ref.step} ({location}) is not JSON: "
                                     f"{exc}") from None

    # --- starting a step -----------------------------------------------------------------------------
    def start_step(self, name: str) -> None:
        step = self.definition.steps[name]
        existing = self.steps.get(name)
        now = time.time()
        if existing is not None:   # a RetryPolicies retry, or a start smlocal did not finish before a restart
            private = existing.get("_smlocal", {})
            attempt = int(existing.get("AttemptCount", 1)) + (1 if private.get("retry_at") else 0)
            first = private.get("first_start", now)
        else:                      # the first attempt (after RetryPipelineExecution: the next one)
            attempt = self.execution["_smlocal"].get("attempts", {}).get(name, 0) + 1
            first = now
        self.set_step(name, StepStatus=StepStatus.STARTING.value, StartTime=now, AttemptCount=attempt,
                      StepDisplayName=step.spec.get("DisplayName"), StepDescription=step.spec.get("Description"),
                      _smlocal={"first_start": first, "retry_at": None})
        try:
            self.begin(step)
        except StepFailed as exc:
            self.fail_step(name, str(exc), exc.kind)
        except pd.EvaluationError as exc:
            self.fail_step(name, str(exc))

    def begin(self, step: pd.Step) -> None:
        problem = self.definition.runnable_problem(step)
        if problem:
            raise StepFailed(problem)
        if step.type == "Condition":
            outcome = "True" if pd.outcome(self.scope, step) else "False"
            self.succeed(step.name, {"Condition": {"Outcome": outcome}}, outcome=outcome)
            return
        if step.type == "Fail":
            message = pd.as_text(self.scope.evaluate((step.arguments or {}).get("ErrorMessage", "")))
            self.set_step(step.name, Metadata={"Fail": {"ErrorMessage": message}})
            raise StepFailed(message)
        if self.cache_hit(step):
            return
        arguments = self.scope.evaluate(step.arguments)
        if step.type in JOB_STEPS:
            self.create_job(step, arguments)
        elif step.type in ("Model", "CreateModel"):
            record = self.call(lambda: models.create(self.ctx, {**arguments, "ModelName": job_name(self.ident,
                                                                                                 step.name)}))
            self.succeed(step.name, {"Model": {"Arn": record["ModelArn"]}}, ref=(MODEL.kind, record["ModelName"]))
        elif step.type == "RegisterModel":
            record = self.register(arguments)
            key = f"{record['ModelPackageGroupName']}/{record['ModelPackageVersion']}" \
                if record.get("ModelPackageVersion") else record["ModelPackageName"]
            self.succeed(step.name, {"RegisterModel": {"Arn": record["ModelPackageArn"]}},
                         ref=(MODEL_PACKAGE.kind, key))
        elif step.type == "EndpointConfig":
            record = self.call(lambda: endpoint_configs.create(self.ctx, arguments))
            self.succeed(step.name, {"EndpointConfig": {"Arn": record["EndpointConfigArn"]}},
                         ref=(ENDPOINT_CONFIG.kind, record["EndpointConfigName"]))
        elif step.type == "Endpoint":
            self.deploy(step, arguments)

    def call(self, create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return create()
        except ServiceError as exc:
            raise StepFailed(f"{exc.code}: {exc.message}", service_error_kind(exc)) from None

    def register(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """A RegisterModel step: the package group is created when it does not exist yet (as SageMaker's
        own examples rely on)."""
        group = arguments.get("ModelPackageGroupName")
        if group and not group.startswith("arn:") and self.ctx.store.get(MODEL_PACKAGE_GROUP.kind, group) is None:
            try:
                model_packages.create_group(self.ctx, {"ModelPackageGroupName": group})
            except ServiceError as exc:   # created meanwhile by another step
                log.debug("model package group %s: %s", group, exc)
        return self.call(lambda: model_packages.create_package(self.ctx, arguments))

    def deploy(self, step: pd.Step, arguments: dict[str, Any]) -> None:
        """An Endpoint step: CreateEndpoint, or UpdateEndpoint when the endpoint exists (as the SDK 3
        ``EndpointStep`` documents), then the step waits until the endpoint is InService (inferred: the
        step succeeds with the endpoint in service, fails with its FailureReason)."""
        deployer = self.services.deployer
        assert deployer is not None, "server.build sets JobServices.deployer"
        name = arguments.get("EndpointName")
        if not name:
            raise StepFailed("ValidationException: the Endpoint step's arguments have no EndpointName.")
        existing = self.ctx.store.get(ENDPOINT.kind, name)
        resumed = self.steps.get(step.name, {}).get("_smlocal", {}).get("endpoint") == name
        self.set_step(step.name, _smlocal={"endpoint": name})
        if existing is None:
            self.call(lambda: endpoints.create(self.ctx, arguments, deployer))
        elif not (resumed and existing["EndpointStatus"] in (EndpointStatus.CREATING, EndpointStatus.UPDATING)):
            # (resumed: smlocal stopped after this step's own Create or Update, which goes on)
            update: dict[str, Any] = {k: arguments[k] for k in UPDATE_MEMBERS if k in arguments}
            self.call(lambda: endpoints.update(self.ctx, update, deployer))
        record = self.ctx.store.get(ENDPOINT.kind, name)
        assert record is not None
        self.set_step(step.name, StepStatus=StepStatus.EXECUTING.value,
                      Metadata={"Endpoint": {"Arn": record["EndpointArn"]}},
                      _smlocal={"ref": {"kind": ENDPOINT.kind, "name": record["EndpointName"]}})

    def follow_endpoint(self, name: str, endpoint: str) -> None:
        record = self.ctx.store.get(ENDPOINT.kind, endpoint)
        status = record["EndpointStatus"] if record else EndpointStatus.DELETING
        if self.stopping:   # inferred: SageMaker cannot stop an endpoint's creation; the step stops waiting
            self.set_step(name, StepStatus=StepStatus.STOPPED.value, EndTime=time.time())
        elif status == EndpointStatus.IN_SERVICE:
            self.set_step(name, StepStatus=StepStatus.SUCCEEDED.value, EndTime=time.time())
        elif status == EndpointStatus.FAILED:
            assert record is not None
            self.fail_step(name, str(record.get("FailureReason") or f"Endpoint {endpoint} failed."))
        elif status == EndpointStatus.DELETING:
            self.fail_step(name, f"The endpoint {endpoint} of this step was deleted.")

    def create_job(self, step: pd.Step, arguments: dict[str, Any]) -> None:
        kind, create, member = JOB_STEPS[step.type]
        family = FAMILIES[kind]
        if step.type == "Tuning":
            name = f"{self.ident}-{secrets.token_hex(4)}"   # tuning job names have at most 32 characters
        else:
            name = job_name(self.ident, step.name)
        self.set_step(step.name, _smlocal={"job": {"kind": kind, "name": name, "arguments": arguments}})
        self.launch(step.name, kind, name, arguments)
        arn = self.ctx.store.get(kind, name)
        assert arn is not None
        self.set_step(step.name, StepStatus=StepStatus.EXECUTING.value,
                      Metadata={member: {"Arn": arn[family.arn_field]}}, _smlocal={"ref": {"kind": kind, "name": name}})

    def launch(self, step_name: str, kind: str, name: str, arguments: dict[str, Any]) -> None:
        step_type = self.definition.steps[step_name].type
        _, create, _ = JOB_STEPS[step_type]
        request = {**arguments, FAMILIES[kind].name_field: name}
        self.call(lambda: create(self.ctx, request, self.launcher))

    def succeed(self, name: str, metadata: dict[str, Any], ref: tuple[str, str] | None = None,
                outcome: str | None = None, **extra: Any) -> None:
        private: dict[str, Any] = {}
        if ref is not None:
            private["ref"] = {"kind": ref[0], "name": ref[1]}
        if outcome is not None:
            private["outcome"] = outcome
        self.set_step(name, StepStatus=StepStatus.SUCCEEDED.value, EndTime=time.time(), Metadata=metadata,
                      _smlocal=private, **extra)

    def fail_step(self, name: str, reason: str, kind: str | None = None) -> None:
        step = self.steps.get(name, {})
        attempt = int(step.get("AttemptCount", 1))
        delay = retry_delay(self.definition.steps[name].spec.get("RetryPolicies") or [], kind, attempt,
                            step.get("_smlocal", {}).get("first_start", time.time()), time.time())
        if delay is not None and not self.stopping:
            log.info("pipeline execution %s: step %s attempt %d failed (%s); retrying in %.1f s", self.ident, name,
                     attempt, kind, delay)
            self.set_step(name, StepStatus=StepStatus.STARTING.value,
                          _smlocal={"retry_at": time.time() + delay, "job": None, "ref": None, "endpoint": None})
            return
        self.set_step(name, StepStatus=StepStatus.FAILED.value, EndTime=time.time(), FailureReason=reason[:3072])

    # --- caching -------------------------------------------------------------------------------------
    def cache_hit(self, step: pd.Step) -> bool:
        config = step.spec.get("CacheConfig") or {}
        if not config.get("Enabled") or step.type not in JOB_STEPS:
            return False
        key = cache_key(step, self.cache_scope.evaluate(step.arguments))
        self.set_step(step.name, _smlocal={"cache_key": key})
        expire = expire_seconds(config.get("ExpireAfter"))
        now = time.time()
        best: tuple[float, dict[str, Any], dict[str, Any]] | None = None
        for other in self.ctx.store.all(PIPELINE_EXECUTION.kind):
            if other["PipelineArn"] != self.execution["PipelineArn"] or other["_smlocal"]["id"] == self.ident:
                continue
            earlier = other["_smlocal"]["steps"].get(step.name)
            if not earlier or earlier["StepStatus"] != StepStatus.SUCCEEDED \
                    or earlier.get("_smlocal", {}).get("cache_key") != key:
                continue
            ended = float(earlier.get("EndTime", 0))
            if expire is not None and now - ended > expire:
                continue
            if best is None or ended > best[0]:
                best = (ended, other, earlier)
        if best is None:
            return False
        _, other, earlier = best
        source = (earlier.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn") \
            or other["PipelineExecutionArn"]
        ref = earlier["_smlocal"]["ref"]
        self.succeed(step.name, earlier.get("Metadata", {}), ref=(ref["kind"], ref["name"]),
                     CacheHitResult={"SourcePipelineExecutionArn": source})
        log.info("pipeline execution %s: step %s is a cache hit of %s", self.ident, step.name, source)
        return True

    # --- selective execution -----------------------------------------------------------------------
    def prepare_selective(self) -> None:
        config = self.execution.get("SelectiveExecutionConfig")
        if not config or self.steps:
            return
        selected = {s["StepName"] for s in config.get("SelectedSteps") or []}
        source = pipelines.get_execution(self.ctx, config["SourcePipelineExecutionArn"])
        for name, earlier in source["_smlocal"]["steps"].items():
            if name in selected or earlier["StepStatus"] != StepStatus.SUCCEEDED:
                continue
            private = earlier.get("_smlocal", {})
            self.set_step(name, StepStatus=StepStatus.SUCCEEDED.value, StartTime=earlier.get("StartTime"),
                          EndTime=earlier.get("EndTime"), Metadata=earlier.get("Metadata", {}), AttemptCount=0,
                          SelectiveExecutionResult={"SourcePipelineExecutionArn": source["PipelineExecutionArn"]},
                          _smlocal={k: private[k] for k in ("ref", "outcome") if k in private})
        # steps neither selected nor succeeded in the source do not run (their dependants are blocked)
        for name in self.definition.steps:
            if name not in selected and name not in self.steps:
                self.set_step(name, StepStatus=StepStatus.STOPPED.value, _hidden=True)

    # --- a running step ------------------------------------------------------------------------------
    def advance(self, name: str, step: dict[str, Any]) -> None:
        private = step.get("_smlocal", {})
        job = private.get("job")
        if step["StepStatus"] != StepStatus.STARTING and private.get("endpoint"):
            self.follow_endpoint(name, private["endpoint"])
            return
        if step["StepStatus"] == StepStatus.STARTING:
            if private.get("retry_at") and time.time() < private["retry_at"] and not self.stopping:
                return
            if job and self.ctx.store.get(job["kind"], job["name"]) is None and not self.stopping:
                self.resume_launch(name, job)         # smlocal stopped between the record and the job
                return
            if not job:
                if self.stopping:
                    self.set_step(name, StepStatus=StepStatus.STOPPED.value, EndTime=time.time())
                else:
                    self.start_step(name)
                return
        if job:
            self.follow_job(name, step, job)

    def resume_launch(self, name: str, job: dict[str, Any]) -> None:
        try:
            self.launch(name, job["kind"], job["name"], job["arguments"])
        except StepFailed as exc:
            self.fail_step(name, str(exc), exc.kind)
            return
        family = FAMILIES[job["kind"]]
        record = self.ctx.store.get(job["kind"], job["name"]) or {}
        member = JOB_STEPS[self.definition.steps[name].type][2]
        self.set_step(name, StepStatus=StepStatus.EXECUTING.value,
                      Metadata={member: {"Arn": record.get(family.arn_field)}},
                      _smlocal={"ref": {"kind": job["kind"], "name": job["name"]}})

    def follow_job(self, name: str, step: dict[str, Any], job: dict[str, Any]) -> None:
        record = self.ctx.store.get(job["kind"], job["name"])
        if record is None:
            self.fail_step(name, f"InternalServerError: the {job['kind']} {job['name']} of this step was deleted.")
            return
        lifecycle = BY_FAMILY[job["kind"]]
        status = lifecycle.status(record)
        if self.stopping and status == JobStatus.IN_PROGRESS:
            self.stop_job(job)
            if step["StepStatus"] != StepStatus.STOPPING:
                self.set_step(name, StepStatus=StepStatus.STOPPING.value)
            return
        if status == JobStatus.COMPLETED:
            self.set_step(name, StepStatus=StepStatus.SUCCEEDED.value, EndTime=time.time())
        elif status == JobStatus.FAILED:
            reason = str(record.get("FailureReason") or f"The {lifecycle.label} failed.")
            self.fail_step(name, reason, failure_kind(reason))
        elif status == JobStatus.STOPPED:
            if self.stopping:
                self.set_step(name, StepStatus=StepStatus.STOPPED.value, EndTime=time.time())
            else:   # stopped from outside the pipeline: the step, and so the execution, fails
                self.set_step(name, StepStatus=StepStatus.FAILED.value, EndTime=time.time(),
                              FailureReason=f"The {lifecycle.label} {job['name']} was stopped.")
        elif status == JobStatus.STOPPING and step["StepStatus"] != StepStatus.STOPPING:
            self.set_step(name, StepStatus=StepStatus.STOPPING.value)

    def stop_job(self, job: dict[str, Any]) -> None:
        try:
            STOPPERS[job["kind"]](self.ctx, job["name"], self.launcher)
        except ServiceError as exc:   # it ended meanwhile
            log.debug("stopping %s %s: %s", job["kind"], job["name"], exc)

    # --- the end -------------------------------------------------------------------------------------
    def finish(self, status: JobStatus, failure: str | None = None) -> None:
        def change(record: dict[str, Any]) -> None:
            if PIPELINE_RUN.is_active(record):
                PIPELINE_RUN.finish(record, status, time.time(), failure)
        self.update(change)
        log.info("pipeline execution %s ended %s", self.ident, self.execution["PipelineExecutionStatus"])


def _objective_value(summary: dict[str, Any]) -> float | None:
    metric = summary.get("FinalHyperParameterTuningJobObjectiveMetric")
    if metric is None or summary.get("ObjectiveStatus") != "Succeeded":
        return None
    return float(metric["Value"])


def run_pipeline_execution(services: JobServices, ident: str, control: JobControl, reattach: bool = False) -> None:
    PipelineRun(services, ident, control).run()
