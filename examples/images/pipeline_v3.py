# %% [markdown]
# # Images, with SageMaker Python SDK 3: processing small images -> a small CNN -> an endpoint
#
# The same pipeline as `pipeline.py` (its PyTorch variant), written for SDK 3 (`sagemaker>=3`:
# `sagemaker.core`, `sagemaker.train.ModelTrainer`, `sagemaker.serve.ModelBuilder`). Against smlocal,
# the only setup is, in the shell that runs it:
#
# ```sh
# ./scripts/smlocal up --detach
# eval "$(./scripts/smlocal env)"
# ```
#
# 1. Draw 16x16 grayscale images of four shapes with NumPy, save them as PGM files, upload them.
# 2. Turn them into training arrays in a processing job (`ScriptProcessor` on the scikit-learn image).
# 3. Train a small PyTorch CNN (`cnn_pytorch.py`) with `ModelTrainer`.
# 4. Deploy it with `ModelBuilder` and classify held-out images through the real-time endpoint.

# %%
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.s3 import S3Downloader, S3Uploader
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
from sagemaker.serve import ModelBuilder
from sagemaker.train import ModelTrainer

# the directory holding this example's files (a notebook runs in its own directory)
HERE = Path(globals().get("__file__", "pipeline_v3.py")).resolve().parent
ROLE = os.environ.get("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/SageMakerRole")
INSTANCE = "ml.m5.large"

session = Session()
bucket = session.default_bucket()
region = session.boto_region_name
prefix = f"s3://{bucket}/examples/images-v3"
print(f"region {region}, writing under {prefix}")

# %% [markdown]
# ## 1. Draw the images
# Rings, squares, crosses and diagonals of random size and position, with noise.

# %%
SIZE = 16
rng = np.random.default_rng(3)
rows, cols = np.mgrid[0:SIZE, 0:SIZE]


def draw(shape: str) -> np.ndarray:
    cy, cx = rng.uniform(5.5, 10.5, 2)
    r = rng.uniform(3.5, 5.5)
    if shape == "ring":
        mask = np.abs(np.hypot(rows - cy, cols - cx) - r) < 0.9
    elif shape == "square":
        d = np.maximum(np.abs(rows - cy), np.abs(cols - cx))
        mask = np.abs(d - r) < 0.7
    elif shape == "cross":
        across = (np.abs(rows - cy) < 0.8) & (np.abs(cols - cx) < r)
        mask = across | ((np.abs(cols - cx) < 0.8) & (np.abs(rows - cy) < r))
    else:  # diagonal
        mask = (np.abs((rows - cy) - (cols - cx)) < 0.9) & (np.abs(rows - cy) < r)
    image = mask * rng.uniform(0.6, 1.0) + rng.normal(0, 0.12, (SIZE, SIZE))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


SHAPES = ["cross", "diagonal", "ring", "square"]
local = Path(tempfile.mkdtemp(prefix="shapes-"))
for shape in SHAPES:
    for n in range(60):
        (local / f"{shape}_{n:03d}.pgm").write_bytes(b"P5\n%d %d\n255\n" % (SIZE, SIZE) + draw(shape).tobytes())
raw_uri = S3Uploader.upload(str(local), f"{prefix}/raw", sagemaker_session=session)
print(f"uploaded {len(list(local.iterdir()))} PGM images to {raw_uri}")

# %% [markdown]
# ## 2. Prepare the images in a processing job
# `ScriptProcessor` runs `prepare_images.py` in the scikit-learn image (any image with Python works).

# %%
processor = ScriptProcessor(image_uri=image_uris.retrieve("sklearn", region=region, version="1.2-1"),
                            command=["python3"], role=ROLE, instance_count=1, instance_type=INSTANCE,
                            sagemaker_session=session)
processor.run(
    code=str(HERE / "processing" / "prepare_images.py"),
    inputs=[ProcessingInput(input_name="raw", s3_input=ProcessingS3Input(
        s3_uri=f"{prefix}/raw/", local_path="/opt/ml/processing/input", s3_data_type="S3Prefix",
        s3_input_mode="File"))],
    outputs=[ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
        s3_uri=f"{prefix}/prepared/{name}", local_path=f"/opt/ml/processing/{name}", s3_upload_mode="EndOfJob"))
             for name in ("train", "test", "labels")],
)

# %% [markdown]
# ## 3. Train the CNN with ModelTrainer

# %%
trainer = ModelTrainer(
    training_image=image_uris.retrieve("pytorch", region=region, version="1.13.1", py_version="py39",
                                       instance_type=INSTANCE, image_scope="training"),
    source_code=SourceCode(source_dir=str(HERE), entry_script="cnn_pytorch.py"),
    compute=Compute(instance_type=INSTANCE, instance_count=1), role=ROLE, sagemaker_session=session,
    output_data_config=OutputDataConfig(s3_output_path=f"{prefix}/models"), base_job_name="images-v3",
    hyperparameters={"epochs": 15, "lr": 0.01, "classes": len(SHAPES)})
trainer.train(input_data_config=[InputData(channel_name="train", data_source=f"{prefix}/prepared/train/")],
              wait=True, logs=True)

# %% [markdown]
# ## 4. Deploy and classify
# The artifact holds a TorchScript `model.pt`, which the PyTorch inference image serves with its default
# handlers: NumPy arrays in and out (`application/x-npy`). `deploy()` returns a
# `sagemaker.core.resources.Endpoint`. (SDK 3.27 needs the artifact as `s3_model_data_url` too: see
# docs/sdk.md.)

# %%
builder = ModelBuilder(
    model=trainer, s3_model_data_url=trainer._latest_training_job.model_artifacts.s3_model_artifacts,
    image_uri=image_uris.retrieve("pytorch", region=region, version="1.13.1", py_version="py39",
                                  instance_type=INSTANCE, image_scope="inference"),
    role_arn=ROLE, instance_type=INSTANCE, sagemaker_session=session)
builder.build()
endpoint = builder.deploy(initial_instance_count=1)
print(f"endpoint {endpoint.endpoint_name} is InService")


def classify(images: np.ndarray) -> np.ndarray:
    body = io.BytesIO()
    np.save(body, images)
    answer = endpoint.invoke(body=body.getvalue(), content_type="application/x-npy", accept="application/x-npy")
    return np.load(io.BytesIO(answer.body.read()))


labels = json.loads(S3Downloader.read_file(f"{prefix}/prepared/labels/labels.json", sagemaker_session=session))
test = np.load(io.BytesIO(S3Downloader.read_bytes(f"{prefix}/prepared/test/images.npz",
                                                  sagemaker_session=session)))

image, truth = test["x"][:1], labels[test["y"][0]]
print("\n".join("".join(" .:*#"[int(v * 4.99)] * 2 for v in row) for row in image[0, :, :, 0]))
scores = classify(image)
print(f"this image is a {truth}; the endpoint says: {labels[int(scores[0].argmax())]}")

predicted = classify(test["x"]).argmax(1)
accuracy = (predicted == test["y"]).mean()
print(f"held-out accuracy: {accuracy:.3f} on {len(predicted)} images")

# %% [markdown]
# ## Clean up

# %%
endpoint.delete()
print("endpoint deleted")
