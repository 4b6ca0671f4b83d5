"""XGBoost under SDK 3: fit y = 2x + 1 with boosted trees and save the booster."""
import argparse
import os

import numpy as np
import xgboost as xgb

parser = argparse.ArgumentParser()
parser.add_argument("--num_round", type=int, default=20)
args = parser.parse_args()
data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
booster = xgb.train({"objective": "reg:squarederror", "max_depth": 3}, xgb.DMatrix(data[:, 1:], label=data[:, 0]),
                    num_boost_round=args.num_round)
prediction = booster.predict(xgb.DMatrix(np.array([[10.0]])))[0]
print(f"xgboost version {xgb.__version__}: f(10)={prediction:.2f}", flush=True)
booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
