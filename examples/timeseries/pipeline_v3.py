# %% [markdown]
# # Time series, with SageMaker Python SDK 3: custom processing container -> built-in XGBoost -> forecasts
#
# The same pipeline as `pipeline.py`, written for SDK 3 (`sagemaker>=3`: `sagemaker.core`,
# `sagemaker.train.ModelTrainer`, `sagemaker.serve.ModelBuilder`). Against smlocal, the only setup is,
# in the shell that runs it:
#
# ```sh
# ./scripts/smlocal up --detach
# eval "$(./scripts/smlocal env)"
# ```
#
# 1. Generate two years of daily sales for three stores and upload them to S3.
# 2. Build a custom processing image (`container/Dockerfile`) and run it with `Processor`.
# 3. Train SageMaker's built-in XGBoost algorithm with `ModelTrainer` (an image, no source code).
# 4. Deploy it with `ModelBuilder` and ask the endpoint for the held-out days' forecasts.

# %%
import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.processing import Processor
from sagemaker.core.s3 import S3Downloader, S3Uploader
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
from sagemaker.serve import ModelBuilder
from sagemaker.train import ModelTrainer

# the directory holding this example's files (a notebook runs in its own directory)
HERE = Path(globals().get("__file__", "pipeline_v3.py")).resolve().parent
ROLE = os.environ.get("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/SageMakerRole")
INSTANCE = "ml.m5.large"

session = Session()
bucket = session.default_bucket()
region = session.boto_region_name
prefix = f"s3://{bucket}/examples/timeseries-v3"
print(f"region {region}, writing under {prefix}")

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
print(raw.tail(3).to_string(index=False))
raw_uri = f"{prefix}/raw/sales.csv"
S3Uploader.upload_string_as_file_body(raw.to_csv(index=False), raw_uri, sagemaker_session=session)
print(f"uploaded {len(raw)} rows to {raw_uri}")

# %% [markdown]
# ## 2. Feature engineering in a custom processing container
# The image is built locally. smlocal runs local images as they are; on AWS you would push it to
# Amazon ECR and use the ECR URI as `image_uri`. SDK 3 takes the API's own shapes for inputs and outputs.

# %%
image = "smlocal-examples/ts-features:latest"
subprocess.run(["docker", "build", "--quiet", "-t", image, str(HERE / "container")], check=True)

processor = Processor(image_uri=image, role=ROLE, instance_count=1, instance_type=INSTANCE,
                      sagemaker_session=session)
processor.run(
    inputs=[ProcessingInput(input_name="raw", s3_input=ProcessingS3Input(
        s3_uri=f"{prefix}/raw/", local_path="/opt/ml/processing/input", s3_data_type="S3Prefix",
        s3_input_mode="File"))],
    outputs=[ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
        s3_uri=f"{prefix}/features/{name}", local_path=f"/opt/ml/processing/{name}", s3_upload_mode="EndOfJob"))
             for name in ("train", "validation", "test")],
    arguments=["--test-days", "14"],
)

# %% [markdown]
# ## 3. Train the built-in XGBoost algorithm
# `image_uris.retrieve` gives AWS's ECR URI for XGBoost 1.7-1; smlocal maps it to its local image.
# A `ModelTrainer` with an image and no `SourceCode` runs the image's own algorithm.

# %%
xgboost_image = image_uris.retrieve("xgboost", region=region, version="1.7-1")
trainer = ModelTrainer(training_image=xgboost_image, role=ROLE, sagemaker_session=session,
                       compute=Compute(instance_type=INSTANCE, instance_count=1), base_job_name="timeseries-v3",
                       output_data_config=OutputDataConfig(s3_output_path=f"{prefix}/models"),
                       hyperparameters={"objective": "reg:squarederror", "num_round": 150, "max_depth": 4,
                                        "eta": 0.1, "subsample": 0.9})
trainer.train(input_data_config=[
    InputData(channel_name="train", data_source=f"{prefix}/features/train/", content_type="text/csv"),
    InputData(channel_name="validation", data_source=f"{prefix}/features/validation/", content_type="text/csv")],
    wait=True, logs=True)
job = trainer._latest_training_job
job.refresh()
for metric in job.final_metric_data_list or []:
    print(f"{metric.metric_name} = {metric.value:.3f}")

# %% [markdown]
# ## 4. Deploy a real-time endpoint and forecast the held-out days
# `ModelBuilder(model=trainer, image_uri=...)` makes a model of the job's artifact; `deploy()` returns
# a `sagemaker.core.resources.Endpoint`, whose `invoke()` sends the request. (SDK 3.27 needs the
# artifact as `s3_model_data_url` too: see docs/sdk.md.)

# %%
builder = ModelBuilder(model=trainer, s3_model_data_url=job.model_artifacts.s3_model_artifacts,
                       image_uri=xgboost_image, role_arn=ROLE, instance_type=INSTANCE, sagemaker_session=session)
builder.build()
endpoint = builder.deploy(initial_instance_count=1)
print(f"endpoint {endpoint.endpoint_name} is InService")

# %%
test_features = pd.read_csv(io.StringIO(S3Downloader.read_file(f"{prefix}/features/test/features.csv",
                                                               sagemaker_session=session)), header=None)
actuals = pd.read_csv(io.StringIO(S3Downloader.read_file(f"{prefix}/features/test/actuals.csv",
                                                         sagemaker_session=session)))
answer = endpoint.invoke(body=test_features.to_csv(index=False, header=False), content_type="text/csv",
                         accept="text/csv")
actuals["forecast"] = [float(v) for v in answer.body.read().decode().replace(",", "\n").split()]
actuals["same_day_last_week"] = test_features[3].values  # the lag_7 feature: a seasonal naive forecast

print(actuals[actuals["store"] == "berlin"].round(1).to_string(index=False))
for column in ("forecast", "same_day_last_week"):
    mape = (100 * (actuals[column] - actuals["sales"]).abs() / actuals["sales"]).mean()
    print(f"mean absolute percentage error, {column}: {mape:.1f}%")

# %% [markdown]
# ## Clean up
# Endpoints run until they are deleted (on AWS they are billed by the hour).

# %%
endpoint.delete()
print("endpoint deleted")
