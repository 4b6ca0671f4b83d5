"""SKLearn script mode as users write it for AWS's image: train when run, model_fn when served."""
import argparse
import os

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--regularization", type=float, default=1.0)  # LogisticRegression C
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()
    frame = pd.read_csv(os.path.join(args.train, "train.csv"), header=None)
    model = LogisticRegression(C=args.regularization).fit(frame.iloc[:, 1:].values, frame.iloc[:, 0].values)
    print(f"training accuracy={model.score(frame.iloc[:, 1:].values, frame.iloc[:, 0].values):.3f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
