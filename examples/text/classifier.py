"""A tiny PyTorch text classifier: averaged word embeddings -> linear layer.

Run as a training script (``__main__``) by the PyTorch estimator, and imported by the inference
container for batch transform and endpoints, which call model_fn / input_fn / predict_fn / output_fn.
"""

import argparse
import io
import json
import os

import numpy as np
import torch
from torch import nn


class TextClassifier(nn.Module):
    def __init__(self, vocab_size: int, dim: int, classes: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size + 1, dim, padding_idx=0)
        self.out = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        mask = (ids != 0).unsqueeze(-1).float()
        pooled = (self.embedding(ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.out(pooled)


def train(args) -> None:
    torch.manual_seed(0)
    with open(os.path.join(args.vocab, "vocab.json")) as f:
        vocab = json.load(f)
    data = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",", dtype=np.int64)
    rng = np.random.default_rng(0)
    rng.shuffle(data)
    split = int(len(data) * 0.9)
    x, y = torch.from_numpy(data[:, 1:]), torch.from_numpy(data[:, 0])
    model = TextClassifier(len(vocab["tokens"]), args.dim, len(vocab["labels"]))
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for start in range(0, split, args.batch_size):
            stop = min(start + args.batch_size, split)
            optimiser.zero_grad()
            loss = nn.functional.cross_entropy(model(x[start:stop]), y[start:stop])
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x[split:]).argmax(1) == y[split:]).float().mean().item()
        print(f"epoch {epoch}: loss={loss.item():.4f} validation_accuracy={accuracy:.3f}")
    torch.jit.script(model).save(os.path.join(args.model_dir, "model.pt"))
    with open(os.path.join(args.model_dir, "labels.json"), "w") as f:
        json.dump(vocab["labels"], f)


# --- inference handlers --------------------------------------------------------------------------
def model_fn(model_dir):
    with open(os.path.join(model_dir, "labels.json")) as f:
        labels = json.load(f)
    return torch.jit.load(os.path.join(model_dir, "model.pt"), map_location="cpu"), labels


def input_fn(body, content_type):
    if content_type != "text/csv":
        raise ValueError(f"send text/csv rows of token ids, not {content_type}")
    text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    return torch.from_numpy(np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2))


def predict_fn(ids, model):
    network, labels = model
    with torch.no_grad():
        return [labels[i] for i in network(ids).argmax(1).tolist()]


def output_fn(predictions, accept):
    return "".join(f"{label}\n" for label in predictions), "text/csv"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--dim", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--vocab", default=os.environ.get("SM_CHANNEL_VOCAB"))
    train(parser.parse_args())
