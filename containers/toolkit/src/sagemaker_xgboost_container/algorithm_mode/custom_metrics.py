"""Evaluation metrics SageMaker's XGBoost computes itself (not XGBoost's own): accuracy, f1, precision,
recall (and their macro/micro/binary variants), balanced_accuracy, mse and r2. They are computed from
raw margins: class = argmax (multi-class) or margin > 0 (binary)."""

from __future__ import annotations

import numpy as np


def _labels(margins: np.ndarray) -> np.ndarray:
    return np.argmax(margins, axis=-1) if margins.ndim > 1 else (margins > 0.0).astype(int)


def _classification(function, **options):
    def metric(margins, dmatrix):
        return function(dmatrix.get_label(), _labels(margins), **options) if margins.size else 0.0
    return metric


def _regression(function):
    return lambda predictions, dmatrix: function(dmatrix.get_label(), predictions)


def _metrics() -> dict:
    from sklearn import metrics as m

    return {
        "accuracy": _classification(m.accuracy_score), "balanced_accuracy": _classification(m.balanced_accuracy_score),
        "f1": _classification(m.f1_score, average="macro"), "f1_binary": _classification(m.f1_score, average="binary"),
        "f1_macro": _classification(m.f1_score, average="macro"), "mse": _regression(m.mean_squared_error),
        "precision": _classification(m.precision_score), "r2": _regression(m.r2_score),
        "precision_macro": _classification(m.precision_score, average="macro"),
        "precision_micro": _classification(m.precision_score, average="micro"),
        "recall": _classification(m.recall_score), "recall_macro": _classification(m.recall_score, average="macro"),
        "recall_micro": _classification(m.recall_score, average="micro"),
    }


CUSTOM = ("accuracy", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "mse", "precision", "precision_macro",
          "precision_micro", "r2", "recall", "recall_macro", "recall_micro")


def configure(names: list[str]):
    """A custom_metric function for xgboost.train reporting ``names`` (None when there are none)."""
    wanted = [n for n in names if n in CUSTOM]
    if not wanted:
        return None
    table = _metrics()

    def custom_metric(margins, dmatrix):
        return [(name, float(table[name](margins, dmatrix))) for name in wanted]
    return custom_metric
