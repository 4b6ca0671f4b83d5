"""SageMaker Pipelines through the unmodified SDK 2 (``PipelineSession``) on real containers: parameters,
Processing -> Training -> evaluation Processing with a PropertyFile -> ConditionStep (JsonGet) ->
RegisterModel + CreateModel + Transform, or Fail; a cached second run; the false branch; Stop while
training; ``list_steps()`` metadata; the AWS CLI's ``list-pipeline-execution-steps``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import botocore.exceptions
import pytest
from test_aws_cli import aws

pytestmark = pytest.mark.docker
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

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


def build_pipeline(sdk, bucket: str, name: str, code: Path, train_image: str, serve_image: str):
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TransformStep

    session = PipelineSession(boto_session=sdk.boto_session, sagemaker_client=sdk.sagemaker_client,
                              default_bucket=bucket)
    mse = ParameterString(name="Mse", default_value="0.2")
    threshold = ParameterFloat(name="MseThreshold", default_value=0.5)
    train_mode = ParameterString(name="TrainMode", default_value="ok")
    cache = CacheConfig(enable_caching=True, expire_after="PT1H")
    (code / "prep.py").write_text(PREP)
    (code / "evaluate.py").write_text(EVALUATE)

    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large",
                                 instance_count=1, sagemaker_session=session)
    prep = ProcessingStep(name="Prep", cache_config=cache, step_args=processor.run(
        code=str(code / "prep.py"),
        outputs=[ProcessingOutput(output_name="train", source="/opt/ml/processing/train",
                                  destination=f"s3://{bucket}/{name}/prep")]))
    estimator = Estimator(image_uri=train_image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                          output_path=f"s3://{bucket}/{name}/model", sagemaker_session=session,
                          hyperparameters={"mode": train_mode, "seconds": "600"})
    train = TrainingStep(name="Train", cache_config=cache, step_args=estimator.fit(inputs={"train": TrainingInput(
        prep.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri, content_type="text/csv")}))
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(name="Evaluate", property_files=[report], step_args=processor.run(
        code=str(code / "evaluate.py"), arguments=["--mse", mse],
        inputs=[ProcessingInput(source=train.properties.ModelArtifacts.S3ModelArtifacts,
                                destination="/opt/ml/processing/model")],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")]))
    model = Model(image_uri=serve_image, model_data=train.properties.ModelArtifacts.S3ModelArtifacts, role=ROLE,
                  env={"LINES": "1"}, sagemaker_session=session)
    register = ModelStep(name="Register", step_args=model.register(
        content_types=["text/csv"], response_types=["application/json"], inference_instances=["ml.m5.large"],
        transform_instances=["ml.m5.large"], model_package_group_name=f"{name}-models",
        approval_status="Approved"))
    create_model = ModelStep(name="MakeModel", step_args=model.create(instance_type="ml.m5.large"))
    transformer = Transformer(model_name=create_model.properties.ModelName, instance_count=1,
                              instance_type="ml.m5.large", output_path=f"s3://{bucket}/{name}/batch",
                              assemble_with="Line", accept="text/csv", sagemaker_session=session)
    batch = TransformStep(name="Batch", step_args=transformer.transform(
        data=f"s3://{bucket}/{name}/prep/train.csv", content_type="text/csv", split_type="Line"))
    fail = FailStep(name="TooInaccurate", error_message=Join(on=" ", values=["MSE above", threshold]))
    check = ConditionStep(
        name="Check", conditions=[ConditionLessThanOrEqualTo(
            left=JsonGet(step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value"),
            right=threshold)],
        if_steps=[register, create_model, batch], else_steps=[fail])
    return Pipeline(name=name, parameters=[mse, threshold, train_mode],
                    steps=[prep, train, evaluate, check], sagemaker_session=session)


def by_name(steps: list[dict]) -> dict[str, dict]:
    return {s["StepName"]: s for s in steps}


def test_sdk_pipeline_branches_cache_list_steps_and_the_cli(sdk, s3, bucket, framework_image, train_image,
                                                             serve_image, jobs_gateway, tmp_path):
    framework_image("sklearn")
    name = f"sdk-pipeline-{int(time.time()) % 100000}"
    pipeline = build_pipeline(sdk, bucket, name, tmp_path, train_image, serve_image)
    assert pipeline.upsert(role_arn=ROLE)["PipelineArn"].endswith(f":pipeline/{name}")
    assert "PipelineVersionId" in pipeline.upsert(role_arn=ROLE)     # the second upsert updates

    execution = pipeline.start()
    execution.wait(delay=5, max_attempts=60)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    steps = by_name(execution.list_steps())
    assert set(steps) == {"Prep", "Train", "Evaluate", "Check", "Register-RegisterModel", "MakeModel-CreateModel",
                          "Batch"}
    assert all(s["StepStatus"] == "Succeeded" for s in steps.values())
    assert steps["Check"]["Metadata"]["Condition"]["Outcome"] == "True"
    package = sdk.sagemaker_client.describe_model_package(
        ModelPackageName=steps["Register-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"])
    assert package["ModelApprovalStatus"] == "Approved" and package["ModelPackageGroupName"] == f"{name}-models"
    training = sdk.sagemaker_client.describe_training_job(
        TrainingJobName=steps["Train"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1])
    assert package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == \
        training["ModelArtifacts"]["S3ModelArtifacts"]
    assert steps["MakeModel-CreateModel"]["Metadata"]["Model"]["Arn"].startswith("arn:aws:sagemaker:")
    transform = sdk.sagemaker_client.describe_transform_job(
        TransformJobName=steps["Batch"]["Metadata"]["TransformJob"]["Arn"].rsplit("/", 1)[1])
    out = s3.get_object(Bucket=bucket, Key=f"{name}/batch/train.csv.out")["Body"].read().decode()
    assert transform["TransformJobStatus"] == "Completed" and len(out.strip().splitlines()) == 3
    evaluation = next(o for o in sdk.sagemaker_client.describe_processing_job(
        ProcessingJobName=steps["Evaluate"]["Metadata"]["ProcessingJob"]["Arn"].rsplit("/", 1)[1])
        ["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == "evaluation")
    report_key = evaluation["S3Output"]["S3Uri"].split("/", 3)[3] + "/evaluation.json"
    assert json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())["model_files"]

    # the AWS CLI sees the same steps
    listed = aws(jobs_gateway, "sagemaker", "list-pipeline-execution-steps", "--pipeline-execution-arn", execution.arn)
    assert listed.returncode == 0, listed.stderr
    assert {s["StepName"] for s in json.loads(listed.stdout)["PipelineExecutionSteps"]} == set(steps)

    # a second run: Prep and Train are cache hits, no new training job
    before = {j["TrainingJobName"] for j in sdk.sagemaker_client.list_training_jobs(MaxResults=100)
              ["TrainingJobSummaries"]}
    again = pipeline.start()
    again.wait(delay=5, max_attempts=60)
    cached = by_name(again.list_steps())
    assert cached["Prep"]["CacheHitResult"]["SourcePipelineExecutionArn"] == execution.arn
    assert cached["Train"]["CacheHitResult"]["SourcePipelineExecutionArn"] == execution.arn
    assert cached["Train"]["Metadata"] == steps["Train"]["Metadata"]
    after = {j["TrainingJobName"] for j in sdk.sagemaker_client.list_training_jobs(MaxResults=100)
             ["TrainingJobSummaries"]}
    assert after == before

    # the false branch: the Fail step's message
    failing = pipeline.start(parameters={"Mse": "0.9"})
    with pytest.raises(botocore.exceptions.WaiterError):
        failing.wait(delay=5, max_attempts=60)
    described = failing.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"] == "Step failure: One or multiple steps failed."
    failed = by_name(failing.list_steps())
    assert failed["Check"]["Metadata"]["Condition"]["Outcome"] == "False"
    assert failed["TooInaccurate"]["Metadata"]["Fail"]["ErrorMessage"] == "MSE above 0.5"
    assert "Register-RegisterModel" not in failed
    assert {p["Name"]: p["Value"] for p in failing.list_parameters()["PipelineParameters"]}["Mse"] == "0.9"


def test_stopping_a_pipeline_while_it_trains_stops_the_training_job(sdk, bucket, framework_image, train_image,
                                                                     serve_image, tmp_path, jobs_gateway):
    framework_image("sklearn")
    name = f"sdk-stop-{int(time.time()) % 100000}"
    pipeline = build_pipeline(sdk, bucket, name, tmp_path, train_image, serve_image)
    pipeline.upsert(role_arn=ROLE)
    execution = pipeline.start(parameters={"TrainMode": "sleep"})
    deadline = time.monotonic() + 180
    while True:
        train = by_name(execution.list_steps()).get("Train")
        if train and train["StepStatus"] == "Executing":
            break
        assert time.monotonic() < deadline, execution.list_steps()
        time.sleep(1)
    job = train["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[1]
    # the test's own polls go through plain boto3: the SDK's first Describe of a new job is held until the job
    # ends or SMLOCAL_SDK_DESCRIBE_WAIT (60 s) passes (emulator/sagemaker/sdk_wait.py), which here only delays
    # the stop by a minute
    boto = jobs_gateway.client("sagemaker")
    while boto.describe_training_job(TrainingJobName=job)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(1)
    execution.stop()
    while execution.describe()["PipelineExecutionStatus"] != "Stopped":
        assert time.monotonic() < deadline, execution.describe()
        time.sleep(1)
    assert by_name(execution.list_steps())["Train"]["StepStatus"] == "Stopped"
    assert sdk.sagemaker_client.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Stopped"
