# %% [markdown]
# # Images: processing small images -> a small CNN -> an endpoint classifying an image (PyTorch or TensorFlow)
#
# Plain SageMaker Python SDK code. Against smlocal, the only setup is, in the shell that runs it:
#
# ```sh
# ./scripts/smlocal up --detach
# eval "$(./scripts/smlocal env)"
# ```
#
# 1. Draw 16x16 grayscale images of four shapes with NumPy, save them as PGM files, upload them.
# 2. Turn them into training arrays in a processing job: `ScriptProcessor` on the scikit-learn image, or
#    with `FRAMEWORK=tensorflow` the TensorFlow path end to end: `TensorFlowProcessor`.
# 3. Train a small CNN: PyTorch by default, or TensorFlow/Keras (the `TensorFlow` estimator) with
#    `FRAMEWORK=tensorflow`.
# 4. Deploy it and classify held-out images through the real-time endpoint.

# %%
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import sagemaker
from sagemaker import image_uris
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.pytorch import PyTorch
from sagemaker.s3 import S3Downloader, S3Uploader
from sagemaker.tensorflow import TensorFlow, TensorFlowProcessor

# the directory holding this example's files (a notebook runs in its own directory)
HERE = Path(globals().get("__file__", "pipeline.py")).resolve().parent
ROLE = os.environ.get("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/SageMakerRole")
INSTANCE = "ml.m5.large"
FRAMEWORK = os.environ.get("FRAMEWORK", "pytorch")  # or "tensorflow"

session = sagemaker.Session()
bucket = session.default_bucket()
prefix = f"s3://{bucket}/examples/images/{FRAMEWORK}"
print(f"region {session.boto_region_name}, writing under {prefix}, training with {FRAMEWORK}")

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
# `prepare_images.py` needs only NumPy. With PyTorch, `ScriptProcessor` runs it in the scikit-learn image
# (any image with Python works); on the TensorFlow path, `TensorFlowProcessor` runs it in the TensorFlow
# image (a `FrameworkProcessor`: the script travels in `sourcedir.tar.gz` with the SDK's `runproc.sh`).

# %%
inputs = [ProcessingInput(source=f"{prefix}/raw/", destination="/opt/ml/processing/input")]
outputs = [ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}",
                            destination=f"{prefix}/prepared/{name}")
           for name in ("train", "test", "labels")]
if FRAMEWORK == "tensorflow":
    processor = TensorFlowProcessor(framework_version="2.13", py_version="py310", role=ROLE, instance_count=1,
                                    instance_type=INSTANCE, sagemaker_session=session)
    processor.run(code="prepare_images.py", source_dir=str(HERE / "processing"), inputs=inputs, outputs=outputs)
else:
    sklearn_image = image_uris.retrieve("sklearn", region=session.boto_region_name, version="1.2-1")
    processor = ScriptProcessor(image_uri=sklearn_image, command=["python3"], role=ROLE, instance_count=1,
                                instance_type=INSTANCE, sagemaker_session=session)
    processor.run(code=str(HERE / "processing" / "prepare_images.py"), inputs=inputs, outputs=outputs)

# %% [markdown]
# ## 3. Train the CNN

# %%
common = dict(role=ROLE, instance_count=1, instance_type=INSTANCE, output_path=f"{prefix}/models",
              hyperparameters={"epochs": 15, "lr": 0.01, "classes": len(SHAPES)}, sagemaker_session=session)
if FRAMEWORK == "tensorflow":
    estimator = TensorFlow(entry_point=str(HERE / "cnn_tensorflow.py"), framework_version="2.13",
                           py_version="py310", **common)
else:
    estimator = PyTorch(entry_point=str(HERE / "cnn_pytorch.py"), framework_version="1.13", py_version="py39",
                        **common)
estimator.fit({"train": f"{prefix}/prepared/train/"})

# %% [markdown]
# ## 4. Deploy and classify
# The PyTorch predictor sends NumPy arrays; TensorFlow Serving's REST API takes `{"instances": ...}`.

# %%
predictor = estimator.deploy(initial_instance_count=1, instance_type=INSTANCE)
print(f"endpoint {predictor.endpoint_name} is InService")


def classify(images: np.ndarray) -> np.ndarray:
    if FRAMEWORK == "tensorflow":
        return np.array(predictor.predict({"instances": images.tolist()})["predictions"])
    return predictor.predict(images)


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
predictor.delete_endpoint()
print("endpoint deleted")
