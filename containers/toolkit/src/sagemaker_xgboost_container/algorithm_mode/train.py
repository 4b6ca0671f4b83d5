"""Built-in XGBoost training (algorithm mode, docs/container-contract.md 6): validate hyperparameters
and channels, load train/validation DMatrices, train with per-round evaluation lines
(``[0]\ttrain-rmse:...``) and optional early stopping / checkpoints, save
/opt/ml/model/xgboost-model on the master host."""

from __future__ import annotations

import glob
import logging
import os
import pickle
import re

from sagemaker_algorithm_toolkit.exceptions import AlgorithmError, UserError
from smlocal_toolkit import framework_version

from sagemaker_xgboost_container import data_utils, distributed
from sagemaker_xgboost_container.algorithm_mode import channel_validation, custom_metrics
from sagemaker_xgboost_container.algorithm_mode import hyperparameter_validation as hpv

log = logging.getLogger(__name__)
MODEL_NAME = "xgboost-model"
CHECKPOINT_NAME = "xgboost-checkpoint"
CUSTOMER_ERRORS = ("label must be in [0,1] for logistic regression", "label must be in [0, num_class)")
NOT_XGBOOST_PARAMS = ("num_round", "early_stopping_rounds", "save_model_on_termination", "_tuning_objective_metric",
                      "_kfold", "_num_cv_round", "csv_weights", "use_dask_gpu_training")


def _load(path, content_type, csv_weights):
    return data_utils.get_dmatrix(path, content_type, csv_weights) if path and os.path.isdir(path) else None


def sagemaker_train(train_config, data_config, train_path, val_path, model_dir, sm_hosts, sm_current_host,
                    checkpoint_config):
    legacy = framework_version.xgboost_legacy()
    if legacy:
        train_config = _legacy_hyperparameters(train_config)
    hyperparameters = hpv.validate(train_config)
    if legacy and len(sm_hosts) > 1 and hyperparameters.get("tree_method") == "exact":
        log.warning("Tree method is set to be 'exact', but currently we are only able to proceed with the "
                    "approximate algorithm ('approx') in distributed training (as XGBoost %s did)",
                    framework_version.requested())
        hyperparameters["tree_method"] = "approx"
    channels = channel_validation.validate(data_config)
    if "_kfold" in hyperparameters:
        raise UserError("smlocal's XGBoost does not implement cross-validation training (_kfold).")
    content_type = data_utils.get_content_type(channels["train"].get("ContentType"))
    csv_weights = hyperparameters.get("csv_weights", 0)
    train_dmatrix = _load(train_path, content_type, csv_weights)
    val_dmatrix = _load(val_path, content_type, csv_weights) if "validation" in channels else None
    if "validation" in channels and val_dmatrix is None and len(sm_hosts) == 1:
        raise UserError(f"No data in validation channel path {val_path}")
    args = dict(train_cfg=hyperparameters, train_dmatrix=train_dmatrix, val_dmatrix=val_dmatrix, model_dir=model_dir,
                checkpoint_dir=(checkpoint_config or {}).get("LocalPath"))
    if len(sm_hosts) > 1:
        distributed.rabit_run(train_job, args, include_in_training=train_dmatrix is not None, hosts=sm_hosts,
                              current_host=sm_current_host, update_rabit_args=True)
    elif train_dmatrix is None:
        raise UserError(f"No data in training channel path {train_path}")
    else:
        train_job(is_master=True, **args)


def _checkpoint(directory):
    """(model file to resume from, iterations already done)."""
    if not directory or not os.path.isdir(directory):
        return None, 0
    done = {}
    for path in glob.glob(os.path.join(directory, f"{CHECKPOINT_NAME}_*.json")):
        match = re.search(r"_(\d+)\.json$", path)
        if match:
            done[int(match.group(1))] = path
    if not done:
        return None, 0
    last = max(done)
    log.info("Checkpoint loaded from %s; resuming from iteration %d", done[last], last + 1)
    return done[last], last + 1


def train_job(train_cfg, train_dmatrix, val_dmatrix, model_dir, checkpoint_dir, is_master):
    import xgboost as xgb

    params = {k: v for k, v in train_cfg.items() if k not in NOT_XGBOOST_PARAMS}
    tuning = train_cfg.get("_tuning_objective_metric")
    tuning_metrics = tuning.split(":", 1)[1].split(",") if tuning else []
    eval_metric = list(dict.fromkeys(train_cfg.get("eval_metric", []) + tuning_metrics))
    feval = custom_metrics.configure(eval_metric)
    native = [m for m in eval_metric if m not in custom_metrics.CUSTOM]
    params.pop("eval_metric", None)
    if native:
        params["eval_metric"] = native
    callbacks = [xgb.callback.EvaluationMonitor()]
    rounds = train_cfg.get("early_stopping_rounds")
    stop_metric = (tuning_metrics or train_cfg.get("eval_metric") or [None])[-1]
    if rounds and val_dmatrix is not None and stop_metric:
        callbacks.append(xgb.callback.EarlyStopping(rounds=rounds, data_name="validation", metric_name=stop_metric,
                                                    maximize=stop_metric in hpv.MAXIMIZE_METRICS, save_best=is_master))
    resume, done = _checkpoint(checkpoint_dir)
    if checkpoint_dir and is_master:
        os.makedirs(checkpoint_dir, exist_ok=True)
        callbacks.append(xgb.callback.TrainingCheckPoint(directory=checkpoint_dir, name=CHECKPOINT_NAME, interval=1))
    watchlist = [(train_dmatrix, "train")] + ([(val_dmatrix, "validation")] if val_dmatrix is not None else [])
    log.info("Train matrix has %d rows and %d columns", train_dmatrix.num_row(), train_dmatrix.num_col())
    try:
        booster = xgb.train(params, train_dmatrix, num_boost_round=max(train_cfg["num_round"] - done, 0),
                            evals=watchlist, custom_metric=feval, callbacks=callbacks, xgb_model=resume,
                            verbose_eval=False)
    except Exception as error:
        if any(text in str(error) for text in CUSTOMER_ERRORS):
            raise UserError(str(error)) from error
        raise AlgorithmError(f"XGB train call failed with exception:\n {error}") from error
    if is_master:
        os.makedirs(model_dir, exist_ok=True)
        if framework_version.xgboost_legacy():   # AWS's images before 1.3 pickled the Booster
            with open(os.path.join(model_dir, MODEL_NAME), "wb") as handle:
                pickle.dump(booster, handle)
        else:
            booster.save_model(os.path.join(model_dir, MODEL_NAME))


def _legacy_hyperparameters(train_config):
    """`silent` (0/1), accepted before XGBoost 1.3 and gone from its parameters since: 1 means verbosity 0."""
    config = dict(train_config)
    silent = config.pop("silent", None)
    if silent is not None:
        if str(silent).strip() not in ("0", "1"):
            raise UserError(f"Hyperparameter silent: value {silent} not in range [0, 1]")
        if str(silent).strip() == "1":
            config.setdefault("verbosity", "0")
        log.info("silent=%s (XGBoost %s) is read as verbosity=%s", silent, framework_version.requested(),
                 config.get("verbosity", "1"))
    return config
