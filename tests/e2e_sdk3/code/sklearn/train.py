"""SDK 3 script mode on the scikit-learn image: hyperparameters arrive as --flags, channels as
SM_CHANNEL_*; every host checkpoints, algo-1 saves the model and what it saw."""
import argparse
import json
import os
import socket

import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression

parser = argparse.ArgumentParser()
parser.add_argument("--regularization", type=float, default=1.0)
parser.add_argument("--label", default="")
args = parser.parse_args()

host = os.environ["SM_CURRENT_HOST"]
hosts = json.loads(os.environ["SM_HOSTS"])
frame = pd.read_csv(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), header=None)
extra = sorted(os.listdir(os.environ["SM_CHANNEL_EXTRA"]))
model = LogisticRegression(C=args.regularization).fit(frame.iloc[:, 1:].values, frame.iloc[:, 0].values)
accuracy = model.score(frame.iloc[:, 1:].values, frame.iloc[:, 0].values)
print(f"{host} of {hosts}: training accuracy={accuracy:.3f}", flush=True)
os.makedirs("/opt/ml/checkpoints", exist_ok=True)
with open(f"/opt/ml/checkpoints/{host}.txt", "w") as out:
    out.write(f"checkpoint from {socket.gethostname()}")
if host == hosts[0]:
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "evidence.json"), "w") as out:
        json.dump({"hosts": hosts, "label": args.label, "regularization": args.regularization,
                   "stage": os.environ.get("STAGE"), "extra": extra,
                   "extra_text": open(os.path.join(os.environ["SM_CHANNEL_EXTRA"], extra[0])).read(),
                   "instance_type": os.environ.get("SM_CURRENT_INSTANCE_TYPE")}, out)
