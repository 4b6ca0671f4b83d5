# %% [markdown]
# # Text: SKLearnProcessor tokenizing -> BERT-style fine-tuning with the PyTorch estimator -> batch transform
#
# Plain SageMaker Python SDK code. Against smlocal, the only setup is, in the shell that runs it:
#
# ```sh
# ./scripts/smlocal up --detach
# eval "$(./scripts/smlocal env)"
# ```
#
# 1. Write a small corpus of short news-like snippets about four topics and upload it to S3.
# 2. Tokenize it with scikit-learn in a processing job (`SKLearnProcessor`, `tokenize_corpus.py`).
# 3. Fine-tune a BERT-style transformer for classification with the `PyTorch` estimator (`classifier.py`).
#    A real run would load a pre-trained BERT from a model hub (e.g. `bert-base-uncased` through
#    `transformers`, with its WordPiece tokenizer) and fine-tune it; with no model hub here, the script
#    builds a tiny one (two encoder layers, hidden size 32, a vocabulary from this corpus), pre-trains it
#    with BERT's masked-language-model objective and then fine-tunes it, all in seconds.
# 4. Classify the held-out documents with a batch transform job and measure the accuracy.

# %%
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import sagemaker
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.pytorch import PyTorch
from sagemaker.s3 import S3Downloader, S3Uploader
from sagemaker.sklearn.processing import SKLearnProcessor

# the directory holding this example's files (a notebook runs in its own directory)
HERE = Path(globals().get("__file__", "pipeline.py")).resolve().parent
ROLE = os.environ.get("SAGEMAKER_ROLE", "arn:aws:iam::123456789012:role/SageMakerRole")
INSTANCE = "ml.m5.large"

session = sagemaker.Session()
bucket = session.default_bucket()
prefix = f"s3://{bucket}/examples/text"
print(f"region {session.boto_region_name}, writing under {prefix}")

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
corpus_uri = S3Uploader.upload_string_as_file_body(corpus.to_csv(index=False), f"{prefix}/corpus/corpus.csv",
                                                   sagemaker_session=session)
print(f"uploaded {len(corpus)} documents to {corpus_uri}")

# %% [markdown]
# ## 2. Tokenize with scikit-learn in a processing job

# %%
processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_count=1, instance_type=INSTANCE,
                             sagemaker_session=session)
processor.run(
    code=str(HERE / "tokenize_corpus.py"),
    inputs=[ProcessingInput(source=corpus_uri, destination="/opt/ml/processing/input")],
    outputs=[ProcessingOutput(output_name=name, source=f"/opt/ml/processing/{name}",
                              destination=f"{prefix}/tokens/{name}")
             for name in ("train", "test", "vocab")],
    arguments=["--max-len", "24"],
)

# %% [markdown]
# ## 3. BERT-style pre-training and fine-tuning with the PyTorch estimator
# `classifier.py` is both the training script and, through its `model_fn` / `input_fn` /
# `predict_fn` / `output_fn`, the inference code. With a real BERT the estimator would be the same,
# with a GPU instance, `transformers` in `requirements.txt` and `from_pretrained(...)` in the script.

# %%
estimator = PyTorch(entry_point=str(HERE / "classifier.py"), framework_version="1.13", py_version="py39",
                    role=ROLE, instance_count=1, instance_type=INSTANCE, output_path=f"{prefix}/models",
                    hyperparameters={"pretrain-epochs": 3, "epochs": 8, "lr": 0.005, "dim": 32, "layers": 2,
                                     "heads": 2}, sagemaker_session=session)
estimator.fit({"train": f"{prefix}/tokens/train/", "vocab": f"{prefix}/tokens/vocab/"})

# %% [markdown]
# ## 4. Batch transform over the held-out documents
# Each line of `tokens.csv` is one document; the transform job sends them in batches
# (`MultiRecord`) and writes one predicted label per line to `tokens.csv.out`.

# %%
transformer = estimator.transformer(instance_count=1, instance_type=INSTANCE, strategy="MultiRecord",
                                    assemble_with="Line", accept="text/csv", output_path=f"{prefix}/predictions")
transformer.transform(f"{prefix}/tokens/test/tokens.csv", content_type="text/csv", split_type="Line")

# %%
predicted = S3Downloader.read_file(f"{prefix}/predictions/tokens.csv.out", sagemaker_session=session).split()
held_out = pd.read_csv(io.StringIO(S3Downloader.read_file(f"{prefix}/tokens/test/labels.csv",
                                                          sagemaker_session=session)))
held_out["predicted"] = predicted
print(held_out.head(5).to_string(index=False))
print(pd.crosstab(held_out["label"], held_out["predicted"]))
accuracy = (held_out["label"] == held_out["predicted"]).mean()
print(f"held-out accuracy: {accuracy:.3f} on {len(held_out)} documents")
