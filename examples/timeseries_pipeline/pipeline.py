# %% [markdown]
# # Time series as a SageMaker Pipeline: features -> XGBoost -> evaluation -> quality gate -> registry
#
# The time-series workflow of `examples/timeseries`, written once as a SageMaker Pipeline
# (`sagemaker.workflow`, SDK 2) instead of calls run by hand. Plain SDK code; against smlocal the only
# setup is, in the shell that runs it:
#
# ```sh
# ./scripts/smlocal up --detach
# eval "$(./scripts/smlocal env)"
# ```
#
# 1. Generate two years of daily sales for three stores and upload them to S3.
# 2. Define the pipeline: the custom feature container (`../timeseries/container`) -> the built-in
#    XGBoost algorithm -> an evaluation step that writes `evaluation.json` (a PropertyFile) -> a
#    ConditionStep on the model's error: register the model (approved) and create a SageMaker model,
#    or fail the execution with a message.
# 3. `upsert()`, `start()`, `wait()`, and list the steps with what each one ran.
# 4. Start it again with a stricter quality gate: the feature and training steps are cache hits
#    (no new jobs), and the execution ends Failed with the Fail step's message.

# %%
import json
import os
import subprocess
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import sagemaker
from botocore.exceptions import WaiterError
from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model import Model
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor, ScriptProcessor
from sagemaker.s3 import S3Uploader
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.fail_step import FailStep
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.model_step import ModelStep
from sagemaker.workflow.parameters import ParameterFloat, ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep

# the directory holding this example's files (a notebook runs in its own directory)
HERE = Path(globals().get("__file__", "pipeline.py")).resolve().parent
ROLE = os.environ.get("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/SageMakerRole")
INSTANCE = "ml.m5.large"

session = PipelineSession()
bucket = session.default_bucket()
prefix = f"s3://{bucket}/examples/timeseries-pipeline"
print(f"region {session.boto_region_name}, writing under {prefix}")

# %% [markdown]
# ## 1. Synthetic daily sales
# Trend + weekly pattern (busy weekends) + a yearly cycle + noise, different for each store.

# %%
rng = np.random.default_rng(7)
days = pd.date_range("2024-01-01", periods=730, freq="D")
t = np.arange(len(days))
frames = []
for store, (level, growth, weekend) in {"berlin": (120, 0.05, 40), "lisbon": (80, 0.02, 25),
                                          "oslo": (60, 0.08, 15)}.items():
    weekly = np.where(days.day_of_week >= 5, weekend, 0) + 5 * np.sin(2 * np.pi * days.day_of_week / 7)
    yearly = 10 * np.sin(2 * np.pi * t / 365.25)
    sales = level + growth * t + weekly + yearly + rng.normal(0, 4, len(days))
    frames.append(pd.DataFrame({"date": days.date, "store": store, "sales": sales.round(2)}))
raw = pd.concat(frames, ignore_index=True)
raw_uri = S3Uploader.upload_string_as_file_body(raw.to_csv(index=False), f"{prefix}/raw/sales.csv",
                                                sagemaker_session=session)
print(f"uploaded {len(raw)} rows to {raw_uri}")

# %% [markdown]
# ## 2. The pipeline
# Parameters make one definition serve several runs; `CacheConfig` lets a re-run reuse the feature and
# training steps' results when their inputs did not change. The feature image is built locally (on AWS,
# push it to Amazon ECR and use that URI).

# %%
image = "smlocal-examples/ts-features:latest"
subprocess.run(["docker", "build", "--quiet", "-t", image, str(HERE.parent / "timeseries" / "container")],
               check=True)
xgboost_image = image_uris.retrieve("xgboost", region=session.boto_region_name, version="1.7-1")

raw_data = ParameterString(name="RawData", default_value=f"{prefix}/raw/")
max_mape = ParameterFloat(name="MaxMape", default_value=8.0)
cache = CacheConfig(enable_caching=True, expire_after="P1D")

features_step = ProcessingStep(
    name="Features", cache_config=cache,
    step_args=Processor(image_uri=image, role=ROLE, instance_count=1, instance_type=INSTANCE,
                        sagemaker_session=session).run(
        inputs=[ProcessingInput(source=raw_data, destination="/opt/ml/processing/input")],
        outputs=[ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}",
                                  destination=f"{prefix}/features/{name}")
                 for name in ("train", "validation", "test")],
        arguments=["--test-days", "14"]))
outputs = features_step.properties.ProcessingOutputConfig.Outputs

estimator = Estimator(image_uri=xgboost_image, role=ROLE, instance_count=1, instance_type=INSTANCE,
                      output_path=f"{prefix}/models", sagemaker_session=session,
                      hyperparameters={"objective": "reg:squarederror", "num_round": 150, "max_depth": 4,
                                       "eta": 0.1, "subsample": 0.9})
train_step = TrainingStep(name="Train", cache_config=cache, step_args=estimator.fit({
    "train": TrainingInput(outputs["train"].S3Output.S3Uri, content_type="text/csv"),
    "validation": TrainingInput(outputs["validation"].S3Output.S3Uri, content_type="text/csv")}))

report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
evaluator = ScriptProcessor(image_uri=xgboost_image, command=["python3"], role=ROLE, instance_count=1,
                            instance_type=INSTANCE, sagemaker_session=session)
evaluate_step = ProcessingStep(
    name="Evaluate", cache_config=cache, property_files=[report],
    step_args=evaluator.run(
        code=str(HERE / "evaluate.py"),
        inputs=[ProcessingInput(source=train_step.properties.ModelArtifacts.S3ModelArtifacts,
                                destination="/opt/ml/processing/model"),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test")],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")]))

model = Model(image_uri=xgboost_image, model_data=train_step.properties.ModelArtifacts.S3ModelArtifacts,
              role=ROLE, sagemaker_session=session)
register_step = ModelStep(name="Register", step_args=model.register(
    content_types=["text/csv"], response_types=["text/csv"], inference_instances=[INSTANCE],
    transform_instances=[INSTANCE], model_package_group_name="timeseries-forecasts",
    approval_status="Approved"))
create_step = ModelStep(name="Forecaster", step_args=model.create(instance_type=INSTANCE))
fail_step = FailStep(name="TooInaccurate", error_message=Join(on=" ", values=[
    "The forecast's MAPE is above", max_mape, "percent: not registered."]))
mape = JsonGet(step_name=evaluate_step.name, property_file=report, json_path="regression_metrics.mape.value")
gate = ConditionStep(name="QualityGate", conditions=[ConditionLessThanOrEqualTo(left=mape, right=max_mape)],
                     if_steps=[register_step, create_step], else_steps=[fail_step])

pipeline = Pipeline(name="timeseries-forecast", parameters=[raw_data, max_mape],
                    steps=[features_step, train_step, evaluate_step, gate], sagemaker_session=session)
print(f"pipeline {pipeline.name}: {len(json.loads(pipeline.definition())['Steps'])} top-level steps")

# %% [markdown]
# ## 3. Run it
# `upsert()` creates the pipeline (or updates it when it exists); `wait()` returns when it ends.

# %%
def show(steps):
    for step in sorted(steps, key=lambda s: s["StartTime"]):
        metadata = step.get("Metadata", {})
        what = ", ".join(f"{kind} {value.get('Arn', value.get('Outcome', value.get('ErrorMessage')))}"
                         for kind, value in metadata.items())
        cached = " (cache hit)" if "CacheHitResult" in step else ""
        failure = f" -- {step['FailureReason']}" if "FailureReason" in step else ""
        print(f"  {step['StepName']:<24} {step['StepStatus']:<10}{cached} {what}{failure}")


pipeline.upsert(role_arn=ROLE, description="daily sales forecast with a quality gate")
execution = pipeline.start()
try:
    execution.wait(delay=10, max_attempts=90)
finally:
    print(f"execution {execution.arn.rsplit('/', 1)[1]}: {execution.describe()['PipelineExecutionStatus']}")
    show(execution.list_steps())

# %%
sm = boto3.client("sagemaker")
evaluation = next(o for o in sm.describe_processing_job(ProcessingJobName=next(
    s for s in execution.list_steps() if s["StepName"] == "Evaluate")["Metadata"]["ProcessingJob"]["Arn"]
    .rsplit("/", 1)[1])["ProcessingOutputConfig"]["Outputs"] if o["OutputName"] == "evaluation")
result = json.loads(sagemaker.s3.S3Downloader.read_file(f"{evaluation['S3Output']['S3Uri']}/evaluation.json",
                                                         sagemaker_session=session))
print(f"mean absolute percentage error, forecast: {result['regression_metrics']['mape']['value']:.1f}%")
print(f"mean absolute percentage error, same_day_last_week: "
      f"{result['regression_metrics']['baseline_mape']['value']:.1f}%")
packages = sm.list_model_packages(ModelPackageGroupName="timeseries-forecasts", SortOrder="Descending")
latest = packages["ModelPackageSummaryList"][0]
print(f"registered {latest['ModelPackageArn']} ({latest['ModelApprovalStatus']})")

# %% [markdown]
# ## 4. A stricter quality gate
# The same pipeline with `MaxMape` at 1 %: the steps before the gate are cache hits (no new processing
# or training job runs), the gate takes its else branch and the Fail step ends the execution.

# %%
strict = pipeline.start(parameters={"MaxMape": 1.0})
try:
    strict.wait(delay=10, max_attempts=90)
except WaiterError:
    pass  # the waiter reports a Failed execution as an error
described = strict.describe()
print(f"strict execution: {described['PipelineExecutionStatus']} ({described.get('FailureReason')})")
show(strict.list_steps())
failed = next(s for s in strict.list_steps() if s["StepName"] == "TooInaccurate")
print(f"fail message: {failed['Metadata']['Fail']['ErrorMessage']}")
