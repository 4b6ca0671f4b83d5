# %% [markdown]
# # Text, with SageMaker Python SDK 3: ScriptProcessor tokenizing -> ModelTrainer (PyTorch) -> batch transform
#
# The same pipeline as `pipeline.py`, written for SDK 3 (`sagemaker>=3`: `sagemaker.train.ModelTrainer`,
# `sagemaker.serve.ModelBuilder`, `sagemaker.core`). Against smlocal, the only setup is, in the shell
# that runs it:
#
# ```sh
# ./scripts/smlocal up --detach
# eval "$(./scripts/smlocal env)"
# ```
#
# 1. Write a small corpus of short news-like snippets about four topics and upload it to S3.
# 2. Tokenize it with scikit-learn in a processing job (`ScriptProcessor`, `tokenize_corpus.py`).
# 3. Fine-tune a BERT-style transformer (`classifier.py`, as in pipeline.py) with `ModelTrainer` and `SourceCode`.
# 4. Turn the job into a model with `ModelBuilder` (the same script serves it) and classify the held-out
#    documents with a batch transform job.

# %%
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.s3 import S3Downloader, S3Uploader
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig, SourceCode
from sagemaker.core.transformer import Transformer
from sagemaker.serve import ModelBuilder
from sagemaker.train import ModelTrainer

# the directory holding this example's files (a notebook runs in its own directory)
HERE = Path(globals().get("__file__", "pipeline_v3.py")).resolve().parent
ROLE = os.environ.get("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/SageMakerRole")
INSTANCE = "ml.m5.large"

session = Session()
bucket = session.default_bucket()
region = session.boto_region_name
prefix = f"s3://{bucket}/examples/text-v3"
print(f"region {region}, writing under {prefix}")

# %% [markdown]
# ## 1. A small corpus
# Each document mixes words of its topic with common words and a few words of other topics.

# %%
TOPICS = {
    "sports": "match goal team coach league season player score referee stadium striker trophy final "
              "tournament penalty defender fans victory",
    "weather": "rain storm forecast sunny cloud wind temperature snow humidity cold warm front "
               "thunder degrees showers frost breeze",
    "cooking": "recipe oven flour butter garlic onion simmer roast bake sauce pepper salt dough "
               "kitchen chef taste spices",
    "technology": "software chip laptop network cloud startup battery phone update app code server "
                  "data browser robot screen",
}
COMMON = ("the a of to in and for on with today new week after before said people city more "
          "about this that first last").split()
rng = np.random.default_rng(11)
words = {topic: text.split() for topic, text in TOPICS.items()}
documents = []
for _ in range(800):
    topic = rng.choice(list(TOPICS))
    others = [w for t, ws in words.items() if t != topic for w in ws]
    length = rng.integers(8, 16)
    picks = [rng.choice(words[topic]) if r < 0.35 else rng.choice(others) if r < 0.45 else rng.choice(COMMON)
             for r in rng.random(length)]
    documents.append({"label": topic, "text": " ".join(picks).capitalize() + "."})
corpus = pd.DataFrame(documents)
print(corpus.head(4).to_string(index=False))
corpus_uri = f"{prefix}/corpus/corpus.csv"
S3Uploader.upload_string_as_file_body(corpus.to_csv(index=False), corpus_uri, sagemaker_session=session)
print(f"uploaded {len(corpus)} documents to {corpus_uri}")

# %% [markdown]
# ## 2. Tokenize with scikit-learn in a processing job
# SDK 3 takes the API's own shapes: `ProcessingInput(s3_input=ProcessingS3Input(...))`.

# %%
processor = ScriptProcessor(image_uri=image_uris.retrieve("sklearn", region=region, version="1.2-1"),
                            command=["python3"], role=ROLE, instance_count=1, instance_type=INSTANCE,
                            sagemaker_session=session)
processor.run(
    code=str(HERE / "tokenize_corpus.py"),
    inputs=[ProcessingInput(input_name="corpus", s3_input=ProcessingS3Input(
        s3_uri=corpus_uri, local_path="/opt/ml/processing/input", s3_data_type="S3Prefix", s3_input_mode="File"))],
    outputs=[ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
        s3_uri=f"{prefix}/tokens/{name}", local_path=f"/opt/ml/processing/{name}", s3_upload_mode="EndOfJob"))
             for name in ("train", "test", "vocab")],
    arguments=["--max-len", "24"],
)

# %% [markdown]
# ## 3. Fine-tune the BERT-style classifier with ModelTrainer
# `SourceCode` uploads this directory; hyperparameters reach `classifier.py` as `--epochs 8 ...`.

# %%
pytorch_training = image_uris.retrieve("pytorch", region=region, version="1.13.1", py_version="py39",
                                       instance_type=INSTANCE, image_scope="training")
trainer = ModelTrainer(training_image=pytorch_training, role=ROLE, sagemaker_session=session,
                       source_code=SourceCode(source_dir=str(HERE), entry_script="classifier.py"),
                       compute=Compute(instance_type=INSTANCE, instance_count=1),
                       output_data_config=OutputDataConfig(s3_output_path=f"{prefix}/models"),
                       hyperparameters={"pretrain-epochs": 3, "epochs": 8, "lr": 0.005, "dim": 32, "layers": 2,
                                        "heads": 2}, base_job_name="text-v3")
trainer.train(input_data_config=[InputData(channel_name="train", data_source=f"{prefix}/tokens/train/"),
                                 InputData(channel_name="vocab", data_source=f"{prefix}/tokens/vocab/")],
              wait=True, logs=True)

# %% [markdown]
# ## 4. Batch transform over the held-out documents
# `ModelBuilder(model=trainer, ...)` repacks the job's artifact with `classifier.py` (its `model_fn`,
# `input_fn`, `predict_fn`, `output_fn`) and creates the model; `Transformer` runs the batch job. (SDK 3.27
# repacks from `s3_model_data_url`, so the job's artifact is passed there too: see docs/sdk.md.)

# %%
pytorch_inference = image_uris.retrieve("pytorch", region=region, version="1.13.1", py_version="py39",
                                        instance_type=INSTANCE, image_scope="inference")
builder = ModelBuilder(model=trainer, s3_model_data_url=trainer._latest_training_job.model_artifacts.s3_model_artifacts,
                       image_uri=pytorch_inference, role_arn=ROLE, instance_type=INSTANCE,
                       source_code=SourceCode(source_dir=str(HERE), entry_script="classifier.py"),
                       sagemaker_session=session)
model = builder.build()
transformer = Transformer(model_name=model.model_name, instance_count=1, instance_type=INSTANCE,
                          strategy="MultiRecord", assemble_with="Line", accept="text/csv",
                          output_path=f"{prefix}/predictions", sagemaker_session=session)
transformer.transform(f"{prefix}/tokens/test/tokens.csv", content_type="text/csv", split_type="Line")
print(f"transform job {transformer.latest_transform_job.transform_job_name} completed")

# %%
predicted = S3Downloader.read_file(f"{prefix}/predictions/tokens.csv.out", sagemaker_session=session).split()
held_out = pd.read_csv(io.StringIO(S3Downloader.read_file(f"{prefix}/tokens/test/labels.csv",
                                                          sagemaker_session=session)))
held_out["predicted"] = predicted
print(held_out.head(5).to_string(index=False))
print(pd.crosstab(held_out["label"], held_out["predicted"]))
accuracy = (held_out["label"] == held_out["predicted"]).mean()
print(f"held-out accuracy: {accuracy:.3f} on {len(held_out)} documents")

# %% [markdown]
# ## Clean up

# %%
model.delete()
print("model deleted")
