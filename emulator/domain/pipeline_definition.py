"""A SageMaker Pipeline definition (JSON schema ``2020-12-01``), pure: parsing and validation with
SageMaker's checks, the step graph, parameters, and the expression language (``Get``, ``Std:Join``,
``Std:JsonGet``, conditions). No records, no S3: the executor (``emulator.jobs.pipeline_runner``)
hands in what the expressions read (step properties, property files) through a ``Scope``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import ValidationException

VERSIONS = ("2020-12-01",)
FOR_EACH_WHY = "it fans its body steps out over a list of items at run time"
FUNCTION_STEP_WHY = ("its training job runs the SageMaker Python SDK's remote-function driver (job_driver.sh), "
                     "which needs the SDK inside the image and unpickles the function from S3")
# the step types smlocal runs
RUNNABLE = frozenset({"Processing", "Training", "Transform", "Model", "CreateModel", "RegisterModel",
                      "Condition", "Fail", "Tuning", "EndpointConfig", "Endpoint"})
# step types SageMaker accepts in a definition that smlocal cannot run: the step fails with a reason
NOT_RUNNABLE = {
    "Lambda": "it invokes an AWS Lambda function",
    "Callback": "it waits for an Amazon SQS callback token",
    "EMR": "it runs a step on an Amazon EMR cluster",
    "EMRServerless": "it runs a job on Amazon EMR Serverless",
    "QualityCheck": "it runs a SageMaker Model Monitor baselining job",
    "ClarifyCheck": "it runs a SageMaker Clarify job",
    "AutoML": "it runs a SageMaker Autopilot job",
    "NotebookJob": "it runs a notebook job",
    # SDK 3 (sagemaker.mlops.workflow) step types
    "InferenceComponent": "it creates an inference component, which smlocal's endpoints do not host",
    "Lineage": "it writes SageMaker ML Lineage Tracking entities",
    "Job": "it runs a generic SageMaker job step",
    "Cleanup": "it deletes resources after the execution",
    "ForEach": FOR_EACH_WHY,
}
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")
CONDITION_TYPES = ("Equals", "GreaterThan", "GreaterThanOrEqualTo", "LessThan", "LessThanOrEqualTo", "In", "Not",
                   "Or")
EXECUTION_VARIABLES = ("StartDateTime", "CurrentDateTime", "PipelineExecutionId", "PipelineExecutionArn",
                       "PipelineName", "PipelineArn")
STEP_NAME = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")


@dataclass
class Step:
    name: str
    type: str
    spec: dict[str, Any]                  # the step as the definition gives it
    parent: str | None = None             # the Condition step whose branch holds it
    branch: bool | None = None            # True: in IfSteps, False: in ElseSteps
    depends: set[str] = field(default_factory=set)   # steps it waits for (data, DependsOn, condition)

    @property
    def arguments(self) -> Any:
        return self.spec.get("Arguments", {})


@dataclass
class Definition:
    raw: dict[str, Any]
    parameters: dict[str, dict[str, Any]]   # name -> {"Name", "Type", "DefaultValue"?}
    steps: dict[str, Step]                  # in definition order, condition branches after their step

    def runnable_problem(self, step: Step) -> str | None:
        """Why smlocal cannot run ``step`` (it then fails with this reason), or None."""
        if step.type in RUNNABLE:
            if step.type == "Training" and _is_function_step(step):
                return _not_runnable(step.name, "Training (a @step function)", FUNCTION_STEP_WHY)
            return None
        return _not_runnable(step.name, step.type, NOT_RUNNABLE.get(step.type, "smlocal does not run it"))

    def start_problem(self, selected: set[str] | None = None) -> str | None:
        """Why smlocal refuses StartPipelineExecution (None: it starts): a ``@step`` function step or a
        ForEach step among the steps that would run (``selected``: a selective execution's steps). These
        are refused up front rather than failing when reached, as smlocal can never run them and the
        steps before them would run for nothing."""
        for step in self.steps.values():
            if selected is not None and step.name not in selected:
                continue
            if step.type == "Training" and _is_function_step(step):
                return (f"Step {step.name} is a @step function step, which smlocal does not run: "
                        f"{FUNCTION_STEP_WHY}. Run the function's code as a script in a ProcessingStep or "
                        "TrainingStep instead (see docs/pipelines.md).")
            if step.type == "ForEach":
                return (f"Step {step.name} is a ForEach step, which smlocal does not run: {FOR_EACH_WHY}. "
                        "Define one step per item instead (see docs/pipelines.md).")
        return None


def _is_function_step(step: Step) -> bool:
    """The SDK's ``@step``: a training job whose container runs the SDK's remote-function driver
    (``job_driver.sh`` as ContainerEntrypoint, ``--pipeline_step_name`` among its arguments)."""
    algorithm = (step.arguments or {}).get("AlgorithmSpecification") or {}
    entrypoint = json.dumps(algorithm.get("ContainerEntrypoint") or [])
    return "job_driver.sh" in entrypoint or "--pipeline_step_name" in json.dumps(
        algorithm.get("ContainerArguments") or [])


def _not_runnable(name: str, kind: str, why: str) -> str:
    return (f"Step {name} has type {kind}, which smlocal does not run ({why}); see docs/pipelines.md for the "
            "step types smlocal executes.")


# --- parsing and validation (CreatePipeline, UpdatePipeline, StartPipelineExecution) ------------------
def parse(text: str) -> Definition:
    """Parse and validate a definition: SageMaker's checks at CreatePipeline (JSON, version, step names,
    references to steps and parameters, cycles)."""
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ValidationException(f"Unable to parse pipeline definition. Invalid JSON: {exc}.") from None
    if not isinstance(raw, dict):
        raise ValidationException("Unable to parse pipeline definition. The definition must be a JSON object.")
    version = raw.get("Version")
    if version not in VERSIONS:
        raise ValidationException(f"Unsupported pipeline definition version {version!r}; "
                                  f"supported: {', '.join(VERSIONS)}.")
    parameters = _parameters(raw.get("Parameters") or [])
    steps: dict[str, Step] = {}
    for spec in raw.get("Steps") or []:
        _collect(spec, steps, None, None)
    definition = Definition(raw, parameters, steps)
    _link(definition)
    _check_cycles(definition)
    return definition


def _parameters(items: list[Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name = item.get("Name") if isinstance(item, dict) else None
        if not name:
            raise ValidationException("Invalid pipeline definition: every parameter needs a Name.")
        if name in out:
            raise ValidationException(f"Invalid pipeline definition: duplicate parameter name {name}.")
        kind = item.get("Type", "String")
        if kind not in PARAMETER_TYPES:
            raise ValidationException(f"Invalid pipeline definition: parameter {name} has type {kind}; "
                                      f"supported types: {', '.join(PARAMETER_TYPES)}.")
        if "DefaultValue" in item and item["DefaultValue"] is not None:
            coerce(kind, item["DefaultValue"], name)
        out[name] = {**item, "Type": kind}
    return out


def _collect(spec: Any, steps: dict[str, Step], parent: str | None, branch: bool | None) -> None:
    if not isinstance(spec, dict) or not spec.get("Name") or not spec.get("Type"):
        raise ValidationException("Invalid pipeline definition: every step needs a Name and a Type.")
    name, kind = spec["Name"], spec["Type"]
    if not STEP_NAME.match(name):
        raise ValidationException(f"Invalid pipeline definition: step name {name!r} must match "
                                  f"{STEP_NAME.pattern}.")
    if name in steps:
        raise ValidationException(f"Invalid pipeline definition: duplicate step name {name}. Step names must be "
                                  "unique within a pipeline.")
    if kind not in RUNNABLE and kind not in NOT_RUNNABLE:
        raise ValidationException(f"Invalid pipeline definition: step {name} has unknown type {kind}.")
    steps[name] = Step(name, kind, spec, parent, branch)
    if kind == "Condition":
        arguments = spec.get("Arguments") or {}
        for child in arguments.get("IfSteps") or []:
            _collect(child, steps, name, True)
        for child in arguments.get("ElseSteps") or []:
            _collect(child, steps, name, False)


def references(value: Any) -> Iterator[str]:
    """Every ``Get`` path inside ``value`` (condition branches excluded: they are steps of their own; so is a
    ForEach step's body and selector, whose ``ForEach.CurrentItem`` and ``IterationOutput`` paths only exist
    in its fan-out, which smlocal refuses at StartPipelineExecution)."""
    if isinstance(value, dict):
        if set(value) == {"Get"} and isinstance(value["Get"], str):
            yield value["Get"]
            return
        for key, item in value.items():
            if key not in ("IfSteps", "ElseSteps", "ForEachBody", "Selector"):
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def _own_content(step: Step) -> dict[str, Any]:
    return {k: v for k, v in step.spec.items() if k not in ("Name", "Type", "DependsOn")}


def _check_reference(definition: Definition, step: Step, path: str) -> None:
    root, _, rest = path.partition(".")
    if root == "Parameters":
        if rest not in definition.parameters:
            raise ValidationException(f"Invalid pipeline definition: step {step.name} refers to parameter "
                                      f"{rest}, which the pipeline does not define.")
    elif root == "Steps":
        target = re.split(r"[.\[]", rest, maxsplit=1)[0]
        if target not in definition.steps:
            raise ValidationException(f"Invalid pipeline definition: step {step.name} refers to step "
                                      f"{target}, which the pipeline does not define.")
        if target != step.name:
            step.depends.add(target)
    elif root == "Execution":
        if rest not in EXECUTION_VARIABLES:
            raise ValidationException(f"Invalid pipeline definition: step {step.name} refers to the unknown "
                                      f"execution variable {rest}.")
    else:
        raise ValidationException(f"Invalid pipeline definition: step {step.name} has an invalid Get "
                                  f"expression {path!r}.")


def _link(definition: Definition) -> None:
    steps = definition.steps
    for step in steps.values():
        for path in references(_own_content(step)):
            _check_reference(definition, step, path)
        for target in step.spec.get("DependsOn") or []:
            if target not in steps:
                raise ValidationException(f"Invalid pipeline definition: step {step.name} depends on step {target}, "
                                          "which the pipeline does not define.")
            step.depends.add(target)
        if step.parent is not None:
            step.depends.add(step.parent)


def _check_cycles(definition: Definition) -> None:
    state: dict[str, int] = {}   # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise ValidationException("Invalid pipeline definition: the steps form a cycle: "
                                      f"{' -> '.join(cycle)}.")
        state[name] = 1
        for target in sorted(definition.steps[name].depends):
            visit(target, [*path, name])
        state[name] = 2

    for name in definition.steps:
        visit(name, [])


# --- parameters ----------------------------------------------------------------------------------------
def coerce(kind: str, value: Any, name: str) -> Any:
    """A parameter value (a string on the wire) as its declared type."""
    text = str(value)
    try:
        if kind == "Integer":
            return int(float(text)) if isinstance(value, float) else int(text)
        if kind == "Float":
            return float(text)
        if kind == "Boolean":
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
    except ValueError:
        raise ValidationException(f"Value {text!r} for parameter {name} is not a valid {kind}.") from None
    return text


def execution_parameters(definition: Definition, given: list[dict[str, str]]) -> list[dict[str, str]]:
    """StartPipelineExecution's PipelineParameters checked against the definition, defaults filled in:
    the list ListPipelineParametersForExecution shows (every parameter, as strings)."""
    values: dict[str, str] = {}
    for item in given:
        name = item["Name"]
        if name not in definition.parameters:
            raise ValidationException(f"Parameter {name} is not defined in the pipeline definition.")
        if name in values:
            raise ValidationException(f"Parameter {name} is given more than once.")
        coerce(definition.parameters[name]["Type"], item["Value"], name)
        values[name] = str(item["Value"])
    out = []
    for name, spec in definition.parameters.items():
        if name in values:
            out.append({"Name": name, "Value": values[name]})
        elif spec.get("DefaultValue") is not None:
            out.append({"Name": name, "Value": _wire(spec["DefaultValue"])})
        else:
            raise ValidationException(f"Parameter {name} has no default value and was not given a value.")
    return out


def _wire(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- expressions -------------------------------------------------------------------------------------
class EvaluationError(Exception):
    """An expression that cannot be evaluated at run time (the step fails with this message)."""


_PATH_TOKEN = re.compile(r"\.?([A-Za-z0-9_:]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def property_path(path: str) -> list[str | int]:
    """``ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri`` -> tokens (names, indices, keys)."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PATH_TOKEN.match(path, position)
        if match is None:
            raise EvaluationError(f"Invalid property path {path!r}.")
        name, index, key1, key2 = match.groups()
        tokens.append(int(index) if index is not None else (name or key1 or key2 or ""))
        position = match.end()
    return tokens


_KEYED_BY = ("OutputName", "InputName", "ChannelName", "MetricName", "Name", "VariantName")


def resolve_path(document: Any, tokens: list[str | int], where: str) -> Any:
    """Follow property-path tokens through a Describe response; a string key into a list picks the
    element whose name member (OutputName, InputName, ChannelName, ...) equals it, as the SDK's
    ``Properties`` lists do."""
    value = document
    for token in tokens:
        if isinstance(token, int):
            if not isinstance(value, list) or token >= len(value):
                raise EvaluationError(f"{where}: index [{token}] is out of range.")
            value = value[token]
        elif isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list):
            match = [item for item in value if isinstance(item, dict)
                     and any(item.get(k) == token for k in _KEYED_BY)]
            if not match:
                raise EvaluationError(f"{where}: no element named {token!r}.")
            value = match[0]
        else:
            raise EvaluationError(f"{where}: the step has no property {token!r}.")
    return value


@dataclass(frozen=True)
class PropertyFileRef:
    step: str
    name: str


class Scope:
    """What expressions read during one execution: parameter values, execution variables, and step
    properties through ``step_properties`` (name -> Describe response) and ``read_property_file``."""

    def __init__(self, parameters: dict[str, Any], variables: dict[str, Any],
                 step_properties: Callable[[str], dict[str, Any]],
                 read_property_file: Callable[[PropertyFileRef], Any]) -> None:
        self.parameters = parameters
        self.variables = variables
        self.step_properties = step_properties
        self.read_property_file = read_property_file

    def get(self, path: str) -> Any:
        root, _, rest = path.partition(".")
        if root == "Parameters":
            if rest not in self.parameters:
                raise EvaluationError(f"Parameter {rest} has no value.")
            return self.parameters[rest]
        if root == "Execution":
            if rest not in self.variables:
                raise EvaluationError(f"Unknown execution variable {rest}.")
            value = self.variables[rest]
            return value() if callable(value) else value
        if root == "Steps":
            match = re.match(r"([A-Za-z0-9\-_]+)(.*)$", rest)
            if match is None:
                raise EvaluationError(f"Invalid step reference {path!r}.")
            step, tail = match.groups()
            tokens = property_path(tail)
            if tokens[:1] == ["PropertyFiles"] and len(tokens) == 2:
                return PropertyFileRef(step, str(tokens[1]))
            return resolve_path(self.step_properties(step), tokens, f"Steps.{step}{tail}")
        raise EvaluationError(f"Invalid Get expression {path!r}.")

    def evaluate(self, value: Any) -> Any:
        """Replace every expression in ``value`` by its value (step arguments, condition operands)."""
        if isinstance(value, dict):
            if len(value) == 1:
                (key, inner), = value.items()
                if key == "Get" and isinstance(inner, str):
                    return self.get(inner)
                if key == "Std:Join":
                    return self.join(inner)
                if key == "Std:JsonGet":
                    return self.json_get(inner)
            return {k: self.evaluate(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.evaluate(item) for item in value]
        return value

    def join(self, spec: dict[str, Any]) -> str:
        values = self.evaluate(spec.get("Values") or [])
        return str(spec.get("On", "")).join(as_text(v) for v in values)

    def json_get(self, spec: dict[str, Any]) -> Any:
        ref = spec.get("PropertyFile")
        if isinstance(ref, dict) and "Get" in ref:
            ref = self.get(ref["Get"])
        elif isinstance(ref, str):     # the older form: the property file's name, with a step elsewhere
            raise EvaluationError(f"Std:JsonGet names property file {ref!r} without its step; "
                                  "give PropertyFile as {\"Get\": \"Steps.<step>.PropertyFiles.<name>\"}.")
        if not isinstance(ref, PropertyFileRef):
            raise EvaluationError("Std:JsonGet needs a PropertyFile reference.")
        document = self.read_property_file(ref)
        path = str(self.evaluate(spec.get("Path", "")))
        try:
            return resolve_path(document, property_path(path), f"Std:JsonGet {ref.name} {path}")
        except EvaluationError as exc:
            raise EvaluationError(f"{exc} (Std:JsonGet found no value at path {path} in property file "
                                  f"{ref.name} of step {ref.step})") from None


def as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


# --- conditions ----------------------------------------------------------------------------------------
def _comparable(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, (int, float)) and not isinstance(left, bool) and isinstance(right, str):
        return left, float(right)
    if isinstance(right, (int, float)) and not isinstance(right, bool) and isinstance(left, str):
        return float(left), right
    return left, right


def condition(scope: Scope, spec: dict[str, Any]) -> bool:
    """One condition of a Condition step, with its operands evaluated."""
    kind = spec.get("Type")
    if kind == "Not":
        return not condition(scope, spec["Expression"])
    if kind == "Or":
        return any(condition(scope, item) for item in spec.get("Conditions") or [])
    if kind == "In":
        query = scope.evaluate(spec["QueryValue"])
        return any(_equal(query, scope.evaluate(v)) for v in spec.get("Values") or [])
    left, right = scope.evaluate(spec.get("LeftValue")), scope.evaluate(spec.get("RightValue"))
    if kind == "Equals":
        return _equal(left, right)
    try:
        left, right = _comparable(left, right)
        if kind == "GreaterThan":
            return bool(left > right)
        if kind == "GreaterThanOrEqualTo":
            return bool(left >= right)
        if kind == "LessThan":
            return bool(left < right)
        if kind == "LessThanOrEqualTo":
            return bool(left <= right)
    except (TypeError, ValueError):
        raise EvaluationError(f"Condition {kind} cannot compare {left!r} with {right!r}.") from None
    raise EvaluationError(f"Unknown condition type {kind}.")


def _equal(left: Any, right: Any) -> bool:
    try:
        left, right = _comparable(left, right)
    except ValueError:
        return False
    return bool(left == right)


def outcome(scope: Scope, step: Step) -> bool:
    """A Condition step's outcome: all its conditions hold."""
    return all(condition(scope, item) for item in (step.arguments or {}).get("Conditions") or [])
