"""Tokenize the corpus with scikit-learn (runs in SKLearnProcessor's container).

Reads /opt/ml/processing/input/corpus.csv (columns label, text), splits it into training and
held-out documents, learns a vocabulary on the training part and writes fixed-length rows of token
ids (0 pads, unknown words are dropped):
  /opt/ml/processing/train/train.csv   label id, then the token ids (no header)
  /opt/ml/processing/test/tokens.csv   token ids only: the batch transform's input
  /opt/ml/processing/test/labels.csv   label, text of the same documents, in the same order
  /opt/ml/processing/vocab/vocab.json  {"tokens": [...], "labels": [...], "max_len": N}
"""

import argparse
import json
import os

import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import train_test_split

BASE = "/opt/ml/processing"


def token_ids(texts, analyzer, index, max_len):
    rows = []
    for text in texts:
        ids = [index[token] for token in analyzer(text) if token in index][:max_len]
        rows.append(ids + [0] * (max_len - len(ids)))
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-len", type=int, default=24)
    parser.add_argument("--max-vocab", type=int, default=2000)
    parser.add_argument("--test-size", type=float, default=0.2)
    args = parser.parse_args()

    corpus = pd.read_csv(f"{BASE}/input/corpus.csv")
    labels = sorted(corpus["label"].unique())
    train, test = train_test_split(corpus, test_size=args.test_size, stratify=corpus["label"], random_state=0)

    vectorizer = CountVectorizer(max_features=args.max_vocab).fit(train["text"])
    tokens = sorted(vectorizer.vocabulary_)
    index = {token: i + 1 for i, token in enumerate(tokens)}  # 0 is padding
    analyzer = vectorizer.build_analyzer()
    print(f"{len(corpus)} documents, {len(labels)} labels {labels}, vocabulary of {len(tokens)} tokens")

    for name in ("train", "test", "vocab"):
        os.makedirs(f"{BASE}/{name}", exist_ok=True)
    train_rows = token_ids(train["text"], analyzer, index, args.max_len)
    train_rows.insert(0, "label", train["label"].map(labels.index).values)
    train_rows.to_csv(f"{BASE}/train/train.csv", header=False, index=False)
    token_ids(test["text"], analyzer, index, args.max_len).to_csv(f"{BASE}/test/tokens.csv", header=False,
                                                                  index=False)
    test[["label", "text"]].to_csv(f"{BASE}/test/labels.csv", index=False)
    with open(f"{BASE}/vocab/vocab.json", "w") as f:
        json.dump({"tokens": tokens, "labels": labels, "max_len": args.max_len}, f)
    print(f"wrote {len(train)} training and {len(test)} held-out documents")
    print("example:", repr(test["text"].iloc[0]), "->", list(analyzer(test["text"].iloc[0]))[:8], "...")


if __name__ == "__main__":
    main()
