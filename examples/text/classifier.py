"""BERT fine-tuning in miniature, with the PyTorch estimator.

A real run would load a pre-trained BERT from a model hub (for example
``transformers.AutoModelForSequenceClassification.from_pretrained("bert-base-uncased", num_labels=4)``
with its WordPiece tokenizer) and fine-tune it. This example has no model hub, so it builds the same
kind of model at toy size and does both of BERT's stages itself, in seconds on a CPU:

1. a BERT-style encoder (token + position embeddings, a ``[CLS]`` token, two Transformer encoder layers
   with self-attention) over a vocabulary built from the example's own corpus (``tokenize_corpus.py``);
2. pre-training with BERT's masked-language-model objective on the training documents (15 % of the
   tokens replaced by ``[MASK]``, predicted back);
3. fine-tuning for classification: a linear head on the pooled output ([CLS] and word vectors averaged),
   trained with every weight.

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


class TinyBert(nn.Module):
    """Token ids (0 pads; 1..vocab_size words) -> per-token vectors; position 0 is [CLS]."""

    def __init__(self, vocab_size: int, max_len: int, dim: int, layers: int, heads: int, classes: int):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, max_len=max_len, dim=dim, layers=layers, heads=heads,
                           classes=classes)
        self.cls_id, self.mask_id = vocab_size + 1, vocab_size + 2
        self.tokens = nn.Embedding(vocab_size + 3, dim, padding_idx=0)
        self.positions = nn.Embedding(max_len + 1, dim)
        self.norm = nn.LayerNorm(dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim * 4, dropout=0.2, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.mlm_head = nn.Linear(dim, vocab_size + 3)       # pre-training: predict masked tokens
        self.classifier = nn.Linear(dim, classes)           # fine-tuning: classify the pooled output

    def encode(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        cls = torch.full((ids.shape[0], 1), self.cls_id, dtype=torch.long)
        ids = torch.cat([cls, ids], dim=1)
        positions = torch.arange(ids.shape[1]).unsqueeze(0)
        hidden = self.norm(self.tokens(ids) + self.positions(positions))
        return self.encoder(hidden, src_key_padding_mask=ids == 0)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Class logits from the mean of the [CLS] and word outputs (mean pooling: steadier than [CLS] alone
        with a few hundred training documents)."""
        hidden = self.encode(ids)
        keep = torch.cat([torch.ones_like(ids[:, :1]), (ids != 0).long()], dim=1).unsqueeze(-1).float()
        return self.classifier((hidden * keep).sum(1) / keep.sum(1))


def masked(ids: torch.Tensor, mask_id: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking: 15 % of the real tokens become [MASK]; the targets are those tokens (-100 elsewhere)."""
    chosen = (torch.rand(ids.shape, generator=generator) < 0.15) & (ids != 0)
    inputs = ids.clone()
    inputs[chosen] = mask_id
    targets = torch.full_like(ids, -100)
    targets[chosen] = ids[chosen]
    return inputs, targets


def batches(count: int, size: int, generator: torch.Generator):
    order = torch.randperm(count, generator=generator)
    for start in range(0, count, size):
        yield order[start:start + size]


def pretrain(model: TinyBert, ids: torch.Tensor, args, generator: torch.Generator) -> None:
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    for epoch in range(1, args.pretrain_epochs + 1):
        model.train()
        for batch in batches(len(ids), args.batch_size, generator):
            inputs, targets = masked(ids[batch], model.mask_id, generator)
            logits = model.mlm_head(model.encode(inputs)[:, 1:])
            loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                               ignore_index=-100)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        print(f"pre-training epoch {epoch}: masked_lm_loss={loss.item():.4f}")


def fine_tune(model: TinyBert, x: torch.Tensor, y: torch.Tensor, split: int, args, generator: torch.Generator) -> None:
    """Fine-tune every weight for classification; keep the epoch with the best validation accuracy."""
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    best, best_state = -1.0, None
    for epoch in range(1, args.epochs + 1):
        model.train()
        for batch in batches(split, args.batch_size, generator):
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(x[split:]).argmax(1) == y[split:]).float().mean().item()
        print(f"epoch {epoch}: loss={loss.item():.4f} validation_accuracy={accuracy:.3f}")
        if accuracy > best:
            best, best_state = accuracy, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    print(f"kept the epoch with validation_accuracy={best:.3f}")


def train(args) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    with open(os.path.join(args.vocab, "vocab.json")) as f:
        vocab = json.load(f)
    data = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",", dtype=np.int64)
    np.random.default_rng(0).shuffle(data)
    split = int(len(data) * 0.9)
    x, y = torch.from_numpy(data[:, 1:]), torch.from_numpy(data[:, 0])
    model = TinyBert(len(vocab["tokens"]), x.shape[1], args.dim, args.layers, args.heads, len(vocab["labels"]))
    print(f"TinyBert: {sum(p.numel() for p in model.parameters())} parameters, {args.layers} layers, "
          f"{args.heads} heads, hidden size {args.dim}, vocabulary {len(vocab['tokens'])} + [PAD] [CLS] [MASK]")
    pretrain(model, x[:split], args, generator)
    fine_tune(model, x, y, split, args, generator)
    torch.save({"config": model.config, "state": model.state_dict()}, os.path.join(args.model_dir, "model.pth"))
    with open(os.path.join(args.model_dir, "labels.json"), "w") as f:
        json.dump(vocab["labels"], f)


# --- inference handlers --------------------------------------------------------------------------
def model_fn(model_dir):
    with open(os.path.join(model_dir, "labels.json")) as f:
        labels = json.load(f)
    saved = torch.load(os.path.join(model_dir, "model.pth"), map_location="cpu")
    model = TinyBert(**saved["config"])
    model.load_state_dict(saved["state"])
    return model.eval(), labels


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
    parser.add_argument("--pretrain-epochs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
    parser.add_argument("--vocab", default=os.environ.get("SM_CHANNEL_VOCAB"))
    train(parser.parse_args())
