"""Selectable inference output of the built-in XGBoost (SAGEMAKER_INFERENCE_OUTPUT, e.g.
``predicted_label,probabilities``): per-record dicts of the requested keys valid for the objective
(invalid ones are NaN), encoded as JSON, JSON Lines or CSV."""

from __future__ import annotations

import json

import numpy as np

SCORE = ["predicted_score"]
BINARY = ["predicted_label", "labels", "raw_score", "raw_scores"]
VALID_KEYS = {
    "reg:squarederror": SCORE, "reg:linear": SCORE, "reg:logistic": SCORE, "reg:gamma": SCORE,
    "reg:absoluteerror": SCORE, "reg:tweedie": SCORE,
    "binary:logistic": ["predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"],
    "binary:logitraw": BINARY, "binary:hinge": BINARY, "multi:softmax": BINARY,
    "multi:softprob": ["predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"],
}


def _value(key: str, objective: str, raw, num_class: str):
    softprob = objective == "multi:softprob"
    if key == "predicted_label":
        if objective in ("binary:hinge", "multi:softmax"):
            return raw.item()
        if objective == "binary:logistic":
            return int(raw > 0.5)
        if objective == "binary:logitraw":
            return int(raw > 0)
        return int(np.argmax(raw)) if softprob else np.nan
    if key == "labels":
        if objective.startswith("binary:"):
            return [0, 1]
        return list(range(int(num_class))) if objective.startswith("multi:") and num_class else np.nan
    if key in ("probability", "raw_score") and softprob:
        return max(raw).item()
    if key == "probability":
        return raw.item() if objective == "binary:logistic" else np.nan
    if key == "probabilities" or key == "raw_scores":
        if softprob:
            return raw.tolist()
        return [1.0 - raw.item(), raw.item()]
    if key == "raw_score":
        return raw.item()
    return raw.item()  # predicted_score


def select(predictions, keys_value: str, config: dict) -> list[dict]:
    objective = config["learner"]["objective"]["name"]
    num_class = config["learner"]["learner_model_param"].get("num_class", "")
    if objective not in VALID_KEYS:
        raise ValueError(f"Objective `{objective}` unsupported for selectable inference predictions.")
    keys = keys_value.replace(" ", "").lower().split(",")
    valid = set(keys) & set(VALID_KEYS[objective])
    out = []
    for raw in predictions:
        record = {k: _value(k, objective, raw, num_class) for k in VALID_KEYS[objective] if k in valid}
        record.update({k: np.nan for k in keys if k not in valid})
        out.append(record)
    return out


def encode_selected(predictions: list[dict], keys_value: str, accept: str, batch: bool) -> str:
    keys = keys_value.replace(" ", "").lower().split(",")
    if accept == "application/json":
        return json.dumps({"predictions": predictions})
    if accept == "application/jsonlines":
        return "".join(json.dumps(p) + "\n" for p in predictions)
    if accept == "text/csv":
        lines = [",".join(f'"{p[k]}"' if isinstance(p[k], list) else str(p[k]) for k in keys) for p in predictions]
        return "\n".join(lines) + ("\n" if batch else "")
    raise RuntimeError(f"Cannot encode selected predictions into accept type '{accept}'.")
