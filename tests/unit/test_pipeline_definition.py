"""The pipeline definition (pure): parsing and validation, the step graph, parameters, expressions,
conditions; and the executor's pure parts (job names, retry backoff, cache expiry)."""

from __future__ import annotations

import json

import pytest

from emulator.domain import pipeline_definition as pd
from emulator.errors import ValidationException
from emulator.jobs import pipeline_runner as runner


def _definition(steps: list[dict], parameters: list[dict] | None = None) -> str:
    return json.dumps({"Version": "2020-12-01", "Parameters": parameters or [], "Steps": steps})


def _step(name: str, kind: str = "Processing", **extra) -> dict:
    return {"Name": name, "Type": kind, "Arguments": extra.pop("Arguments", {}), **extra}


def test_dependencies_come_from_get_references_depends_on_and_condition_branches() -> None:
    condition = _step("Check", "Condition", Arguments={
        "Conditions": [{"Type": "Equals", "LeftValue": {"Get": "Steps.B.ProcessingJobStatus"}, "RightValue": "x"}],
        "IfSteps": [_step("Yes")], "ElseSteps": [_step("No", "Fail")]})
    definition = pd.parse(_definition([
        _step("A"),
        _step("B", Arguments={"In": {"Get": "Steps.A.ProcessingOutputConfig.Outputs['x'].S3Output.S3Uri"}}),
        _step("C", DependsOn=["A"]), condition]))
    assert definition.steps["B"].depends == {"A"}
    assert definition.steps["C"].depends == {"A"}
    assert definition.steps["Check"].depends == {"B"}      # not its branches' references
    assert (definition.steps["Yes"].parent, definition.steps["Yes"].branch) == ("Check", True)
    assert definition.steps["No"].depends == {"Check"} and definition.steps["No"].branch is False


@pytest.mark.parametrize(("steps", "parameters", "message"), [
    ([_step("A"), _step("A")], None, "duplicate step name A"),
    ([_step("A", DependsOn=["B"]), _step("B", DependsOn=["A"])], None, "the steps form a cycle: A -> B -> A"),
    ([_step("A", Arguments={"x": {"Get": "Steps.Z.Foo"}})], None, "refers to step Z"),
    ([_step("A", Arguments={"x": {"Get": "Parameters.P"}})], None, "refers to parameter P"),
    ([_step("A", Arguments={"x": {"Get": "Execution.Nope"}})], None, "unknown execution variable Nope"),
    ([_step("A", "Teleport")], None, "unknown type Teleport"),
    ([_step("bad name")], None, "step name 'bad name'"),
    ([], [{"Name": "P", "Type": "Integer", "DefaultValue": "x"}], "Value 'x' for parameter P is not a valid Integer"),
])
def test_invalid_definitions_are_refused(steps, parameters, message) -> None:
    with pytest.raises(ValidationException) as info:
        pd.parse(_definition(steps, parameters))
    assert message in info.value.message


def test_not_json_and_unknown_versions_are_refused() -> None:
    with pytest.raises(ValidationException, match="Invalid JSON"):
        pd.parse("{")
    with pytest.raises(ValidationException, match="Unsupported pipeline definition version"):
        pd.parse(json.dumps({"Version": "2019-01-01", "Steps": []}))


def test_parameters_get_defaults_types_and_refusals() -> None:
    definition = pd.parse(_definition([], [
        {"Name": "S", "Type": "String", "DefaultValue": "a"}, {"Name": "I", "Type": "Integer", "DefaultValue": 3},
        {"Name": "F", "Type": "Float"}, {"Name": "B", "Type": "Boolean", "DefaultValue": False}]))
    values = pd.execution_parameters(definition, [{"Name": "F", "Value": "0.5"}])
    assert values == [{"Name": "S", "Value": "a"}, {"Name": "I", "Value": "3"}, {"Name": "F", "Value": "0.5"},
                      {"Name": "B", "Value": "false"}]
    with pytest.raises(ValidationException, match="Parameter F has no default value"):
        pd.execution_parameters(definition, [])
    with pytest.raises(ValidationException, match="not a valid Boolean"):
        pd.execution_parameters(definition, [{"Name": "F", "Value": "1"}, {"Name": "B", "Value": "yes"}])
    assert pd.coerce("Integer", "7", "I") == 7 and pd.coerce("Boolean", "True", "B") is True


def _scope(properties: dict[str, dict] | None = None, files: dict | None = None) -> pd.Scope:
    return pd.Scope({"Threshold": 0.5, "Name": "abc"}, {"PipelineExecutionId": "abcdefghijkl"},
                    lambda step: (properties or {})[step], lambda ref: (files or {})[(ref.step, ref.name)])


def test_property_paths_resolve_against_describe_responses() -> None:
    processing = {"ProcessingOutputConfig": {"Outputs": [
        {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
        {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}}]}}
    tuning = {"TrainingJobSummaries": [{"TrainingJobName": "best"}, {"TrainingJobName": "second"}]}
    scope = _scope({"Prep": processing, "Tune": tuning, "Train": {"HyperParameters": {"lr": "0.1"}}})
    assert scope.get("Steps.Prep.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri") == "s3://b/test"
    assert scope.get("Steps.Tune.TrainingJobSummaries[1].TrainingJobName") == "second"
    assert scope.get('Steps.Train.HyperParameters["lr"]') == "0.1"
    with pytest.raises(pd.EvaluationError, match="no element named 'nope'"):
        scope.get("Steps.Prep.ProcessingOutputConfig.Outputs['nope'].S3Output.S3Uri")
    with pytest.raises(pd.EvaluationError, match="has no property 'Missing'"):
        scope.get("Steps.Train.Missing")


def test_join_json_get_and_execution_variables() -> None:
    scope = _scope({}, {("Eval", "Report"): {"metrics": {"mse": {"value": 0.25}}, "list": [1, 2]}})
    joined = scope.evaluate({"Std:Join": {"On": "/", "Values": [
        "s3://b", {"Get": "Parameters.Name"}, {"Get": "Execution.PipelineExecutionId"}, 3]}})
    assert joined == "s3://b/abc/abcdefghijkl/3"
    get = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
                           "Path": "metrics.mse.value"}}
    assert scope.evaluate(get) == 0.25
    assert scope.evaluate({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
                                           "Path": "list[1]"}}) == 2
    with pytest.raises(pd.EvaluationError, match="found no value at path metrics.rmse"):
        scope.evaluate({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Eval.PropertyFiles.Report"},
                                        "Path": "metrics.rmse.value"}})
    assert scope.evaluate({"nested": [{"Get": "Parameters.Threshold"}]}) == {"nested": [0.5]}


@pytest.mark.parametrize(("condition", "expected"), [
    ({"Type": "Equals", "LeftValue": 1, "RightValue": "1"}, True),
    ({"Type": "GreaterThan", "LeftValue": {"Get": "Parameters.Threshold"}, "RightValue": 0.5}, False),
    ({"Type": "GreaterThanOrEqualTo", "LeftValue": {"Get": "Parameters.Threshold"}, "RightValue": 0.5}, True),
    ({"Type": "LessThan", "LeftValue": 0.2, "RightValue": {"Get": "Parameters.Threshold"}}, True),
    ({"Type": "LessThanOrEqualTo", "LeftValue": 0.7, "RightValue": 0.5}, False),
    ({"Type": "In", "QueryValue": {"Get": "Parameters.Name"}, "Values": ["x", "abc"]}, True),
    ({"Type": "Not", "Expression": {"Type": "Equals", "LeftValue": "a", "RightValue": "a"}}, False),
    ({"Type": "Or", "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                                   {"Type": "LessThan", "LeftValue": 1, "RightValue": 2}]}, True),
])
def test_conditions(condition, expected) -> None:
    assert pd.condition(_scope(), condition) is expected


def test_steps_smlocal_does_not_run_have_a_reason_naming_them() -> None:
    function = _step("Fn", "Training", Arguments={"AlgorithmSpecification": {
        "ContainerEntrypoint": ["/bin/bash", "/opt/ml/input/data/sagemaker_remote_function_bootstrap/job_driver.sh"]}})
    definition = pd.parse(_definition([_step("Hook", "Callback"), _step("Train", "Training"), function]))
    assert definition.runnable_problem(definition.steps["Train"]) is None
    assert (definition.runnable_problem(definition.steps["Fn"]) or "").startswith(
        "Step Fn has type Training (a @step function), which smlocal does not run")
    reason = definition.runnable_problem(definition.steps["Hook"])
    assert reason is not None and reason.startswith("Step Hook has type Callback, which smlocal does not run")


def test_function_and_for_each_steps_are_start_problems_unless_a_selective_execution_skips_them() -> None:
    function = _step("Fn", "Training", Arguments={"AlgorithmSpecification": {
        "ContainerArguments": ["--s3_base_uri", "s3://b/p", "--pipeline_step_name", "Fn"]}})
    body = _step("Item", Arguments={"Environment": {"X": {"Get": "ForEach.CurrentItem.name"}},
                                    "In": {"Get": "Steps.Prep.ProcessingJobName"}})
    for_each = _step("Fan", "ForEach", Arguments={
        "IterableItems": {"Get": "Parameters.Items"}, "MaxConcurrency": 2, "ForEachBody": [body],
        "Selector": {"Pick": "MaxBy", "Field": {"Get": "IterationOutput.Item.ProcessingJobStatus"}}})
    after = _step("After", Arguments={"In": {"Get": "Steps.Fan.IterationOutputs[0].Item.ProcessingJobName"}})
    definition = pd.parse(_definition([_step("Prep"), function, for_each, after],
                                      [{"Name": "Items", "Type": "String", "DefaultValue": '["a"]'}]))
    assert definition.steps["After"].depends == {"Fan"}          # the body's own Gets are not the graph's
    assert (definition.start_problem() or "").startswith("Step Fn is a @step function step, which smlocal does not")
    assert (definition.start_problem({"Fan", "After"}) or "").startswith(
        "Step Fan is a ForEach step, which smlocal does not run: it fans its body steps out")
    assert definition.start_problem({"Prep", "After"}) is None
    assert pd.parse(_definition([_step("Prep"), _step("Up", "Endpoint"), _step("Cfg", "EndpointConfig")])) \
        .start_problem() is None


def test_job_names_retry_backoff_and_cache_expiry() -> None:
    name = runner.job_name("abcdefghijkl", "Train_the model" + "x" * 80)
    assert name.startswith("pipelines-abcdefghijkl-Train-the-model") and len(name) <= 63
    policies = [{"ExceptionType": ["SageMaker.JOB_INTERNAL_ERROR"], "IntervalSeconds": 2, "BackoffRate": 3,
                 "MaxAttempts": 2}]
    assert runner.retry_delay(policies, "SageMaker.JOB_INTERNAL_ERROR", 1, 0, 1) == 2
    assert runner.retry_delay(policies, "SageMaker.JOB_INTERNAL_ERROR", 2, 0, 1) == 6
    assert runner.retry_delay(policies, "SageMaker.JOB_INTERNAL_ERROR", 3, 0, 1) is None
    assert runner.retry_delay(policies, "SageMaker.CAPACITY_ERROR", 1, 0, 1) is None
    assert runner.retry_delay(policies, None, 1, 0, 1) is None
    expiring = [{**policies[0], "ExpireAfterMin": 1}]
    assert runner.retry_delay(expiring, "SageMaker.JOB_INTERNAL_ERROR", 1, 0, 120) is None
    assert runner.failure_kind("InternalServerError: smlocal stopped") == "SageMaker.JOB_INTERNAL_ERROR"
    assert runner.failure_kind("AlgorithmError: boom") is None
    assert runner.expire_seconds("PT1H") == 3600 and runner.expire_seconds("P30D") == 30 * 86400
    assert runner.expire_seconds(None) is None
    with pytest.raises(runner.StepFailed):
        runner.expire_seconds("one hour")


@pytest.mark.parametrize(("user_agent", "held"), [
    ("Boto3/1.40 md/Botocore#1.40 ua/2.1 os/linux m/B,Z AWS-SageMaker-Python-SDK/2.257", True),   # wait()
    ("Boto3/1.40 md/Botocore#1.40 ua/2.1 os/linux m/Z AWS-SageMaker-Python-SDK/2.257", False),    # describe()
    ("Boto3/1.40 md/Botocore#1.40 ua/2.1 os/linux m/B", False),                                   # a boto3 waiter
    ("aws-cli/2.17 md/Botocore#1.35", False),
])
def test_only_the_sdks_waiter_polls_are_held(user_agent, held) -> None:
    from emulator import caller

    with caller.calling_as(user_agent):
        assert (caller.is_sdk() and caller.is_waiter()) is held
