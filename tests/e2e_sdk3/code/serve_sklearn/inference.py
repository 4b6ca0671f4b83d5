"""Inference handlers for ModelBuilder's SourceCode (run by the scikit-learn serving image as the user
module): the artifact holds either a fitted scikit-learn model (model.joblib, from a ModelTrainer job)
or a linear classifier as JSON (model.json, uploaded by hand)."""
import json
import os


def model_fn(model_dir):
    if os.path.exists(os.path.join(model_dir, "model.joblib")):
        import joblib

        return joblib.load(os.path.join(model_dir, "model.joblib"))
    with open(os.path.join(model_dir, "model.json")) as handle:
        return json.load(handle)


def input_fn(body, content_type):
    assert content_type == "application/json", content_type
    return json.loads(body)


def predict_fn(rows, model):
    if isinstance(model, dict):
        scores = [sum(w * x for w, x in zip(model["weights"], row, strict=True)) + model["bias"] for row in rows]
        return {"classes": [int(s > 0) for s in scores], "source": "inference.py"}
    return {"classes": [int(c) for c in model.predict(rows)], "source": "inference.py"}


def output_fn(prediction, accept):
    return json.dumps(prediction)
