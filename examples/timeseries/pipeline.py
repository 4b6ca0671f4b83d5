# %% [markdown]
# # Time series: custom processing container -> built-in XGBoost -> real-time forecasts
#
# Plain SageMaker Python SDK code. Against smlocal, the only setup is, in the shell that runs it:
#
# ```sh
# ./scripts/smlocal up --detach
# eval "$(./scripts/smlocal env)"
# ```
#
# 1. Generate two years of daily sales for three stores and upload them to S3.
# 2. Build a custom processing image (`container/Dockerfile`) and run it with `Processor` to turn the
#    raw series into lag, rolling-mean and calendar features.
# 3. Train SageMaker's built-in XGBoost algorithm on those features.
# 4. Deploy it to a real-time endpoint and ask it for the held-out days' forecasts.

# %%
import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import sagemaker
from sagemaker import image_uris
from sagemaker.deserializers import CSVDeserializer
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
from sagemaker.s3 import S3Downloader, S3Uploader
from sagemaker.serializers import CSVSerializer

# the directory holding this example's files (a notebook runs in its own directory)
HERE = Path(globals().get("__file__", "pipeline.py")).resolve().parent
ROLE = os.environ.get("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/SageMakerRole")
INSTANCE = "ml.m5.large"

session = sagemaker.Session()
bucket = session.default_bucket()
prefix = f"s3://{bucket}/examples/timeseries"
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
print(raw.tail(3).to_string(index=False))
raw_uri = S3Uploader.upload_string_as_file_body(raw.to_csv(index=False), f"{prefix}/raw/sales.csv",
                                                sagemaker_session=session)
print(f"uploaded {len(raw)} rows to {raw_uri}")

# %% [markdown]
# ## 2. Feature engineering in a custom processing container
# The image is built locally. smlocal runs local images as they are; on AWS you would push it to
# Amazon ECR and use the ECR URI as `image_uri`.

# %%
image = "smlocal-examples/ts-features:latest"
subprocess.run(["docker", "build", "--quiet", "-t", image, str(HERE / "container")], check=True)

processor = Processor(image_uri=image, role=ROLE, instance_count=1, instance_type=INSTANCE,
                      sagemaker_session=session)
processor.run(
    inputs=[ProcessingInput(source=f"{prefix}/raw/", destination="/opt/ml/processing/input")],
    outputs=[ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}",
                              destination=f"{prefix}/features/{name}")
             for name in ("train", "validation", "test")],
    arguments=["--test-days", "14"],
)

# %% [markdown]
# ## 3. Train the built-in XGBoost algorithm
# `image_uris.retrieve` gives AWS's ECR URI for XGBoost 1.7-1; smlocal maps it to its local image.

# %%
xgboost_image = image_uris.retrieve("xgboost", region=session.boto_region_name, version="1.7-1")
estimator = Estimator(image_uri=xgboost_image, role=ROLE, instance_count=1, instance_type=INSTANCE,
                      output_path=f"{prefix}/models", sagemaker_session=session,
                      hyperparameters={"objective": "reg:squarederror", "num_round": 150, "max_depth": 4,
                                       "eta": 0.1, "subsample": 0.9})
estimator.fit({"train": TrainingInput(f"{prefix}/features/train/", content_type="text/csv"),
               "validation": TrainingInput(f"{prefix}/features/validation/", content_type="text/csv")})
job = session.describe_training_job(estimator.latest_training_job.name)
for metric in job.get("FinalMetricDataList", []):
    print(f"{metric['MetricName']} = {metric['Value']:.3f}")

# %% [markdown]
# ## 4. Deploy a real-time endpoint and forecast the held-out days

# %%
predictor = estimator.deploy(initial_instance_count=1, instance_type=INSTANCE,
                             serializer=CSVSerializer(), deserializer=CSVDeserializer())
print(f"endpoint {predictor.endpoint_name} is InService")

# %%
test_features = pd.read_csv(io.StringIO(S3Downloader.read_file(f"{prefix}/features/test/features.csv",
                                                               sagemaker_session=session)), header=None)
actuals = pd.read_csv(io.StringIO(S3Downloader.read_file(f"{prefix}/features/test/actuals.csv",
                                                         sagemaker_session=session)))
answer = predictor.predict(test_features.values)
actuals["forecast"] = [float(row[0]) for row in answer]
actuals["same_day_last_week"] = test_features[3].values  # the lag_7 feature: a seasonal naive forecast

print(actuals[actuals["store"] == "berlin"].round(1).to_string(index=False))
for column in ("forecast", "same_day_last_week"):
    mape = (100 * (actuals[column] - actuals["sales"]).abs() / actuals["sales"]).mean()
    print(f"mean absolute percentage error, {column}: {mape:.1f}%")

# %% [markdown]
# ## Clean up
# Endpoints run until they are deleted (on AWS they are billed by the hour).

# %%
predictor.delete_endpoint()
print("endpoint deleted")
