"""Platform-side default MetricDefinitions for built-in algorithms (docs/container-contract.md 1.11, 6.4).

A training job that runs AWS's XGBoost image as the built-in algorithm (an ECR ``sagemaker-xgboost`` /
``xgboost`` image and no ``sagemaker_program`` hyperparameter) gets, when it names no MetricDefinitions
itself, ``train:<m>`` and ``validation:<m>`` for every metric the algorithm can print, with the regexes
SageMaker shows in DescribeTrainingJob (they match the ``#011``-escaped tabs of its evaluation lines).
"""

from __future__ import annotations

from typing import Any

from emulator import images

XGBOOST_METRICS = (
    "accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg", "precision", "r2",
    "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro", "aft-nloglik", "cox-nloglik",
    "error", "gamma-deviance", "gamma-nloglik", "interval-regression-accuracy", "logloss", "mae", "mape", "merror",
    "mlogloss", "mphe", "mse", "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik",
)
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def xgboost_definitions() -> list[dict[str, str]]:
    return [{"Name": f"{channel}:{metric}", "Regex": rf".*\[[0-9]+\].*#011{channel}-{metric}:{_NUMBER}.*"}
            for metric in XGBOOST_METRICS for channel in ("train", "validation")]


def is_builtin_xgboost(image: str, hyperparameters: dict[str, str] | None) -> bool:
    local = images.resolve(image).framework
    return local is not None and local.name == "xgboost" and "sagemaker_program" not in (hyperparameters or {})


def with_defaults(algorithm: dict[str, Any], hyperparameters: dict[str, str] | None) -> dict[str, Any]:
    """``AlgorithmSpecification`` with the built-in algorithm's MetricDefinitions filled in when it has none."""
    if algorithm.get("MetricDefinitions") or not is_builtin_xgboost(algorithm.get("TrainingImage", ""),
                                                                    hyperparameters):
        return algorithm
    return {**algorithm, "MetricDefinitions": xgboost_definitions()}
