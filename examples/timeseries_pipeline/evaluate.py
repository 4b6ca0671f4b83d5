"""Evaluation step of the time-series pipeline: score the trained XGBoost model on the held-out days.

Reads the model (/opt/ml/processing/model/model.tar.gz, ``xgboost-model`` inside) and the test
features and actuals the feature step wrote (/opt/ml/processing/test), and writes
/opt/ml/processing/evaluation/evaluation.json with the model's mean absolute percentage error and
that of a same-day-last-week baseline. The pipeline's ConditionStep reads it with JsonGet.
"""

import json
import os
import tarfile

import pandas as pd
import xgboost

BASE = "/opt/ml/processing"

with tarfile.open(f"{BASE}/model/model.tar.gz") as tar:
    member = tar.extractfile("xgboost-model")
    model_bytes = bytearray(member.read())
booster = xgboost.Booster()
booster.load_model(model_bytes)

features = pd.read_csv(f"{BASE}/test/features.csv", header=None)
actuals = pd.read_csv(f"{BASE}/test/actuals.csv")
forecast = booster.predict(xgboost.DMatrix(features.values))


def mape(predicted) -> float:
    return float((100 * (predicted - actuals["sales"]).abs() / actuals["sales"]).mean())


report = {"regression_metrics": {"mape": {"value": round(mape(forecast), 3)},
                                 "baseline_mape": {"value": round(mape(features[3].values), 3)}},
          "rows": len(actuals)}
os.makedirs(f"{BASE}/evaluation", exist_ok=True)
with open(f"{BASE}/evaluation/evaluation.json", "w") as out:
    json.dump(report, out)
print(json.dumps(report))
