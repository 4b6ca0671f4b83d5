"""Built-in XGBoost hyperparameter validation (docs/container-contract.md 6.2), with SageMaker's
messages: required num_round, no unknown keys ("Extraneous hyperparameter found"), parsing, ranges,
then dependencies. Values arrive as strings (hyperparameters.json); validated values come back parsed."""

from __future__ import annotations

import ast
import math

from sagemaker_algorithm_toolkit.exceptions import UserError

MAXIMIZE_METRICS = ["accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
                    "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro", "recall_micro"]
MINIMIZE_METRICS = ["aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
                    "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse",
                    "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik"]
OBJECTIVES = ["aft_loss_distribution", "binary:logistic", "binary:logitraw", "binary:hinge", "count:poisson",
              "multi:softmax", "multi:softprob", "rank:pairwise", "rank:ndcg", "rank:map", "reg:linear",
              "reg:squarederror", "reg:logistic", "reg:gamma", "reg:pseudohubererror", "reg:squaredlogerror",
              "reg:absoluteerror", "reg:tweedie", "survival:aft", "survival:cox"]
UPDATERS = ["grow_colmaker", "distcol", "grow_histmaker", "grow_skmaker", "sync", "refresh", "prune", "grow_colmaker",
            "distcol", "grow_histmaker", "grow_colmaker", "shotgun", "coord_descent", "refresh", "prune"]
TUNING_METRICS = [f"validation:{m}" for m in MAXIMIZE_METRICS + MINIMIZE_METRICS]
ALIASES = {"learning_rate": "eta", "min_split_loss": "gamma", "reg_lambda": "lambda", "reg_alpha": "alpha"}


class Interval:
    def __init__(self, lo=None, hi=None, lo_open=False, hi_open=False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def __contains__(self, value) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return not (self.hi is not None and (value >= self.hi if self.hi_open else value > self.hi))

    def __str__(self) -> str:
        left = "(-inf, " if self.lo is None else f"{'(' if self.lo_open else '['}{self.lo}, "
        return left + ("+inf)" if self.hi is None else f"{self.hi}{')' if self.hi_open else ']'}")


def _eval_metric_ok(metric: str) -> bool:
    if "<function" in metric:
        raise UserError(f"User defined evaluation metric {metric} is not supported yet.")
    if "@" in metric:
        name, threshold = (part.strip() for part in metric.split("@", 1))
        if name not in ("error", "ndcg", "map"):
            raise UserError(f"Metric '{metric}' is not supported. Parameter 'eval_metric' with customized threshold "
                            "should be one of these options: 'error', 'ndcg', 'map'.")
        try:
            float(threshold)
        except ValueError:
            raise UserError(f"Threshold value 't' in '{name}@t' expects float input.") from None
        return True
    return metric in MAXIMIZE_METRICS + MINIMIZE_METRICS


# name -> (kind, range). Kinds: int, float, cat (string in a list), list (comma separated), tuple, nested.
SPEC: dict[str, tuple[str, object]] = {
    "num_round": ("int", Interval(1)), "csv_weights": ("int", Interval(0, 1)),
    "early_stopping_rounds": ("int", Interval(1)), "booster": ("cat", ["gbtree", "gblinear", "dart"]),
    "verbosity": ("int", Interval(0, 3)), "nthread": ("int", Interval(1)), "eta": ("float", Interval(0, 1)),
    "gamma": ("float", Interval(0)), "max_depth": ("int", Interval(0)), "min_child_weight": ("float", Interval(0)),
    "max_delta_step": ("float", Interval(0)), "subsample": ("float", Interval(0, 1, lo_open=True)),
    "colsample_bytree": ("float", Interval(0, 1, lo_open=True)),
    "colsample_bylevel": ("float", Interval(0, 1, lo_open=True)),
    "colsample_bynode": ("float", Interval(0, 1, lo_open=True)), "lambda": ("float", Interval(0)),
    "alpha": ("float", Interval(0)), "tree_method": ("cat", ["auto", "exact", "approx", "hist", "gpu_hist"]),
    "sketch_eps": ("float", Interval(0, 1, True, True)), "scale_pos_weight": ("float", Interval(0, lo_open=True)),
    "updater": ("list", UPDATERS), "dsplit": ("cat", ["row", "col"]), "refresh_leaf": ("int", Interval(0, 1)),
    "process_type": ("cat", ["default", "update"]), "grow_policy": ("cat", ["depthwise", "lossguide"]),
    "max_leaves": ("int", Interval(0)), "max_bin": ("int", Interval(0)),
    "predictor": ("cat", ["auto", "cpu_predictor", "gpu_predictor"]), "monotone_constraints": ("tuple", [-1, 0, 1]),
    "interaction_constraints": ("nested", Interval(1)), "sample_type": ("cat", ["uniform", "weighted"]),
    "normalize_type": ("cat", ["tree", "forest"]), "rate_drop": ("float", Interval(0, 1)),
    "one_drop": ("int", Interval(0, 1)), "skip_drop": ("float", Interval(0, 1)),
    "lambda_bias": ("float", Interval(0, 1)), "tweedie_variance_power": ("float", Interval(1, 2, True, True)),
    "objective": ("cat", OBJECTIVES), "num_class": ("int", Interval(2)), "base_score": ("float", Interval(0)),
    "_kfold": ("int", Interval(2)), "_num_cv_round": ("int", Interval(1)),
    "_tuning_objective_metric": ("cat", TUNING_METRICS), "eval_metric": ("list", MAXIMIZE_METRICS + MINIMIZE_METRICS),
    "seed": ("int", Interval(-(2**31), 2**31 - 1, True, True)), "num_parallel_tree": ("int", Interval(1)),
    "save_model_on_termination": ("cat", ["true", "false"]),
    "aft_loss_distribution": ("cat", ["normal", "logistic", "extreme"]),
    "aft_loss_distribution_scale": ("float", Interval(0)), "deterministic_histogram": ("cat", ["true", "false"]),
    "sampling_method": ("cat", ["uniform", "gradient_based"]), "prob_buffer_row": ("int", Interval(1.0, lo_open=True)),
    "use_dask_gpu_training": ("cat", ["true", "false"]),
}
REQUIRED = ("num_round",)


def _parse(kind: str, value):
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "list":
        return value.split(",")
    if kind in ("tuple", "nested"):
        return ast.literal_eval(value) if isinstance(value, str) else value
    return value


def _check_range(name: str, kind: str, allowed, value) -> None:
    if kind == "list":
        inside = all(_eval_metric_ok(v) for v in value) if name == "eval_metric" else all(v in allowed for v in value)
    elif kind == "tuple":
        inside = all(v in allowed for v in value)
    elif kind == "nested":
        inside = all(v in allowed for outer in value for v in outer)
    else:
        inside = not (isinstance(value, float) and math.isnan(value)) and value in allowed
        if not inside:
            raise UserError(f"Hyperparameter {name}: {value} is not in {allowed}")
    if not inside:
        raise UserError(f"Hyperparameter {name}: value {value} not in range {allowed}")


def _check_dependencies(hps: dict) -> None:
    objective = hps.get("objective")
    if objective in ("multi:softmax", "multi:softprob") and hps.get("num_class") is None:
        raise UserError("Require input for parameter 'num_class' for multi-classification")
    if "eval_metric" in hps:
        objective = hps["objective"]  # SageMaker's validator needs an objective here (KeyError otherwise)
        if "auc" in hps["eval_metric"] and not objective.startswith(("binary:", "rank:")):
            raise UserError("Metric 'auc' can only be applied for classification and ranking problems.")
        if "aft-nloglik" in hps["eval_metric"] and objective != "survival:aft":
            raise UserError("Metric 'aft-nloglik' can only be applied for 'survival:aft' objective.")
    tree_method = hps.get("tree_method")
    if hps.get("monotone_constraints") is not None and tree_method not in ("exact", "hist"):
        raise UserError("monotone_constraints can be used only when the tree_method parameter is set to either "
                        "'exact' or 'hist'.")
    if hps.get("interaction_constraints") is not None and tree_method not in ("exact", "hist", "approx"):
        raise UserError("interaction_constraints can be used only when the tree_method parameter is set to either "
                        "'exact', 'hist' or 'approx'.")
    if hps.get("process_type") == "update" and "updater" in hps and \
            not all(u in ("refresh", "prune") for u in hps["updater"]):
        raise UserError("process_type 'update' can only be used with updater 'refresh' and 'prune'")


def validate(raw: dict) -> dict:
    """SageMaker's checks, in its order; returns the parsed hyperparameters."""
    hps = {ALIASES.get(k, k): v for k, v in raw.items()}
    for name in REQUIRED:
        if name not in hps:
            raise UserError(f"Missing required hyperparameter: {name}")
    parsed = {}
    for name, value in hps.items():
        if name not in SPEC:
            raise UserError(f"Extraneous hyperparameter found: {name}")
        try:
            parsed[name] = _parse(SPEC[name][0], value)
        except (ValueError, SyntaxError) as error:
            raise UserError(f"Hyperparameter {name}: could not parse value", caused_by=error) from error
    for name, value in parsed.items():
        _check_range(name, SPEC[name][0], SPEC[name][1], value)
    _check_dependencies(parsed)
    return parsed
