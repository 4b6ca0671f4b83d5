"""SDK 3 ``sagemaker.mlops.workflow`` pipelines against smlocal, unmodified: the SDK 2 test's pipeline
(tests/e2e/test_sdk_pipelines.py) written in v3 — parameters, a ``ScriptProcessor`` ProcessingStep ->
a ``ModelTrainer`` TrainingStep -> an evaluation ProcessingStep with a PropertyFile -> a ConditionStep
(JsonGet) -> ``ModelBuilder.register()`` / ``.build()`` ModelSteps and v3's EndpointConfigStep and
EndpointStep, or a FailStep — with upsert, start, wait, list_steps, parameters, a cached second run that
updates the endpoint, and the false branch; then the v3 step types smlocal refuses: a ``@step`` function
and a ForEachStep (StartPipelineExecution names the step and why)."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest
from conftest import ROLE, ecr

PREP = """
import os
os.makedirs("/opt/ml/processing/train", exist_ok=True)
with open("/opt/ml/processing/train/train.csv", "w") as out:
    out.write("1,2\\n3,4\\n5,6\\n")
print("prepared 3 rows")
"""

EVALUATE = """
import json, os, sys, tarfile
mse = float(sys.argv[sys.argv.index("--mse") + 1])
with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
    names = tar.getnames()
os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
with open("/opt/ml/processing/evaluation/evaluation.json", "w") as out:
    json.dump({"regression_metrics": {"mse": {"value": mse}}, "model_files": names}, out)
print("mse", mse)
"""

SKLEARN = ecr("sagemaker-scikit-learn", "1.2-1-cpu-py3")
FAILURE = "Step failure: One or multiple steps failed."


def build_pipeline(name: str, bucket: str, code, train_image: str, serve_image: str):
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
    from sagemaker.core.training.configs import Compute, InputData
    from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow import (
        CacheConfig,
        ConditionStep,
        EndpointConfigStep,
        EndpointStep,
        FailStep,
        ModelStep,
        Pipeline,
        ProcessingStep,
        TrainingStep,
    )
    from sagemaker.serve import ModelBuilder
    from sagemaker.train import ModelTrainer

    session = PipelineSession()
    mse = ParameterString(name="Mse", default_value="0.2")
    threshold = ParameterFloat(name="MseThreshold", default_value=0.5)
    train_mode = ParameterString(name="TrainMode", default_value="ok")
    cache = CacheConfig(enable_caching=True, expire_after="PT1H")
    (code / "prep.py").write_text(PREP)
    (code / "evaluate.py").write_text(EVALUATE)

    processor = ScriptProcessor(image_uri=SKLEARN, command=["python3"], role=ROLE, instance_count=1,
                                instance_type="ml.m5.large", sagemaker_session=session)
    prep = ProcessingStep(name="Prep", cache_config=cache, step_args=processor.run(
        code=str(code / "prep.py"),
        outputs=[ProcessingOutput(output_name="train", s3_output=ProcessingS3Output(
            s3_uri=f"s3://{bucket}/{name}/prep", local_path="/opt/ml/processing/train", s3_upload_mode="EndOfJob"))]))
    trainer = ModelTrainer(training_image=train_image, role=ROLE, sagemaker_session=session,
                           compute=Compute(instance_type="ml.m5.large", instance_count=1),
                           hyperparameters={"mode": train_mode, "seconds": "600"})
    train = TrainingStep(name="Train", cache_config=cache, step_args=trainer.train(input_data_config=[InputData(
        channel_name="train", data_source=prep.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri)]))
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(name="Evaluate", property_files=[report], step_args=processor.run(
        code=str(code / "evaluate.py"), arguments=["--mse", mse],
        inputs=[ProcessingInput(input_name="model", s3_input=ProcessingS3Input(
            s3_uri=train.properties.ModelArtifacts.S3ModelArtifacts, local_path="/opt/ml/processing/model",
            s3_data_type="S3Prefix", s3_input_mode="File"))],
        outputs=[ProcessingOutput(output_name="evaluation", s3_output=ProcessingS3Output(
            s3_uri=f"s3://{bucket}/{name}/evaluation", local_path="/opt/ml/processing/evaluation",
            s3_upload_mode="EndOfJob"))]))

    builder = ModelBuilder(image_uri=serve_image, s3_model_data_url=train.properties.ModelArtifacts.S3ModelArtifacts,
                           role_arn=ROLE, sagemaker_session=session, env_vars={"STAGE": "v3-pipeline"})
    register = ModelStep(name="Register", step_args=builder.register(
        model_package_group_name=f"{name}-models", content_types=["text/csv"], response_types=["application/json"],
        inference_instances=["ml.m5.large"], transform_instances=["ml.m5.large"], approval_status="Approved"))
    make_model = ModelStep(name="MakeModel", step_args=builder.build())
    config = EndpointConfigStep(name="Config", step_args=session.create_endpoint_config(
        name=Join(on="-", values=[name, ExecutionVariables.PIPELINE_EXECUTION_ID]),
        production_variants=[{"VariantName": "AllTraffic", "ModelName": make_model.properties.ModelName,
                              "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}]))
    deploy = EndpointStep(name="Deploy", step_args=session.create_endpoint(
        endpoint_name=name, config_name=config.properties.EndpointConfigName))
    fail = FailStep(name="TooInaccurate", error_message=Join(on=" ", values=["MSE above", threshold]))
    check = ConditionStep(
        name="Check", conditions=[ConditionLessThanOrEqualTo(
            left=JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value"),
            right=threshold)],
        if_steps=[register, make_model, config, deploy], else_steps=[fail])
    return Pipeline(name=name, parameters=[mse, threshold, train_mode], steps=[prep, train, evaluate, check],
                    sagemaker_session=session)


def by_name(steps) -> dict[str, dict]:
    return {s["StepName"]: s for s in steps}


def test_v3_pipeline_processing_training_condition_registry_and_endpoint(
        session, sm, s3, bucket, train_image, serve_image, unique, tmp_path):
    from sagemaker.core.resources import Endpoint

    pipeline = build_pipeline(unique, bucket, tmp_path, train_image, serve_image)
    assert pipeline.upsert(role_arn=ROLE)["PipelineArn"].endswith(f":pipeline/{unique.lower()}")
    assert "PipelineVersionId" in pipeline.upsert(role_arn=ROLE)   # the second upsert updates
    execution = pipeline.start()
    execution.wait(delay=5, max_attempts=120)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded", execution.list_steps()
    steps = by_name(execution.list_steps())
    assert set(steps) == {"Prep", "Train", "Evaluate", "Check", "Register", "MakeModel", "Config", "Deploy"}
    assert all(s["StepStatus"] == "Succeeded" for s in steps.values())
    assert steps["Check"]["Metadata"]["Condition"]["Outcome"] == "True"

    training = sm.describe_training_job(
        TrainingJobName=steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1])
    assert training["TrainingJobStatus"] == "Completed" and training["HyperParameters"]["mode"] == "ok"
    channel = training["InputDataConfig"][0]["DataSource"]["S3DataSource"]
    assert channel["S3Uri"] == f"s3://{bucket}/{unique}/prep"
    assert s3.get_object(Bucket=bucket, Key=f"{unique}/prep/train.csv")["Body"].read() == b"1,2\n3,4\n5,6\n"
    report = json.loads(s3.get_object(Bucket=bucket, Key=f"{unique}/evaluation/evaluation.json")["Body"].read())
    assert report["regression_metrics"]["mse"]["value"] == 0.2 and report["model_files"]

    package = sm.describe_model_package(ModelPackageName=steps["Register"]["Metadata"]["RegisterModel"]["Arn"])
    assert package["ModelApprovalStatus"] == "Approved" and package["ModelPackageGroupName"] == f"{unique}-models"
    container = package["InferenceSpecification"]["Containers"][0]
    assert container["ModelDataUrl"] == training["ModelArtifacts"]["S3ModelArtifacts"]
    assert container["Image"] == serve_image

    model_name = steps["MakeModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[1]
    config_name = f"{unique}-{execution.arn.rsplit('/', 1)[1]}"
    config = sm.describe_endpoint_config(EndpointConfigName=config_name)
    assert steps["Config"]["Metadata"]["EndpointConfig"]["Arn"] == config["EndpointConfigArn"]
    assert config["ProductionVariants"][0]["ModelName"].lower() == model_name
    endpoint = Endpoint.get(endpoint_name=unique)
    try:
        assert endpoint.endpoint_status == "InService" and endpoint.endpoint_config_name == config_name
        assert steps["Deploy"]["Metadata"]["Endpoint"]["Arn"] == endpoint.endpoint_arn
        # the endpoint serves the trained model: the container sees its artifacts and environment
        seen = json.loads(endpoint.invoke(body="inspect", content_type="text/plain").body.read())
        assert seen["env"]["STAGE"] == "v3-pipeline" and seen["model"], seen
        assert {p["Name"]: p["Value"] for p in execution.list_parameters()["PipelineParameters"]} == \
            {"Mse": "0.2", "MseThreshold": "0.5", "TrainMode": "ok"}

        # a second run: Prep and Train are cache hits (no new training job); the Endpoint step updates the
        # existing endpoint to the new execution's configuration
        again = pipeline.start()
        again.wait(delay=5, max_attempts=120)
        assert again.describe()["PipelineExecutionStatus"] == "Succeeded", again.list_steps()
        cached = by_name(again.list_steps())
        assert cached["Prep"]["CacheHitResult"]["SourcePipelineExecutionArn"] == execution.arn
        assert cached["Train"]["Metadata"] == steps["Train"]["Metadata"]
        endpoint.refresh()
        assert endpoint.endpoint_status == "InService"
        assert endpoint.endpoint_config_name == f"{unique}-{again.arn.rsplit('/', 1)[1]}"
        assert cached["Deploy"]["Metadata"]["Endpoint"]["Arn"] == endpoint.endpoint_arn

        # the false branch: the Fail step's message, and no registration or deployment
        failing = pipeline.start(parameters={"Mse": "0.9"})
        with pytest.raises(botocore.exceptions.WaiterError):
            failing.wait(delay=5, max_attempts=120)
        described = failing.describe()
        assert described["PipelineExecutionStatus"] == "Failed" and described["FailureReason"] == FAILURE
        failed = by_name(failing.list_steps())
        assert failed["Check"]["Metadata"]["Condition"]["Outcome"] == "False"
        assert failed["TooInaccurate"]["Metadata"]["Fail"]["ErrorMessage"] == "MSE above 0.5"
        assert not {"Register", "MakeModel", "Config", "Deploy"} & set(failed)
    finally:
        endpoint.delete()


def _refused(pipeline) -> str:
    pipeline.upsert(role_arn=ROLE)      # CreatePipeline accepts the definition, as SageMaker does
    with pytest.raises(botocore.exceptions.ClientError) as raised:
        pipeline.start()
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    return raised.value.response["Error"]["Message"]


def test_v3_step_function_and_for_each_are_refused_at_start_naming_the_step(session, sm, unique, tmp_path):
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow import ForEachStep, Pipeline, ProcessingStep
    from sagemaker.mlops.workflow.for_each_step import CurrentItem
    from sagemaker.mlops.workflow.function_step import step

    @step(name="AddOne", image_uri=SKLEARN, instance_type="ml.m5.large", role=ROLE)
    def add_one(x: int) -> int:
        return x + 1

    functions = Pipeline(name=f"{unique}-fn", steps=[add_one(1)], sagemaker_session=session)
    assert _refused(functions) == (
        "Step AddOne is a @step function step, which smlocal does not run: its training job runs the SageMaker "
        "Python SDK's remote-function driver (job_driver.sh), which needs the SDK inside the image and unpickles "
        "the function from S3. Run the function's code as a script in a ProcessingStep or TrainingStep instead "
        "(see docs/pipelines.md).")

    pipeline_session = PipelineSession()
    (tmp_path / "item.py").write_text("import sys; print(sys.argv)\n")
    processor = ScriptProcessor(image_uri=SKLEARN, command=["python3"], role=ROLE, instance_count=1,
                                instance_type="ml.m5.large", sagemaker_session=pipeline_session)
    body = ProcessingStep(name="PerItem", step_args=processor.run(code=str(tmp_path / "item.py"),
                                                                 arguments=["--item", CurrentItem()]))
    fan = ForEachStep(name="Fan", iterable_items=["a", "b", "c"], max_concurrency=2, for_each_body=[body])
    fanned = Pipeline(name=f"{unique}-foreach", steps=[fan], sagemaker_session=pipeline_session)
    definition = json.loads(fanned.definition())
    assert definition["Steps"][0]["Type"] == "ForEach"
    assert _refused(fanned) == (
        "Step Fan is a ForEach step, which smlocal does not run: it fans its body steps out over a list of items "
        "at run time. Define one step per item instead (see docs/pipelines.md).")
    for name in (f"{unique}-fn", f"{unique}-foreach"):
        assert sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"] == []
