"""Built-in XGBoost on the host (no Docker, no xgboost): SageMaker's hyperparameter and channel validation
messages, ContentType parsing, and the emulator's default metric definitions for the algorithm."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "containers" / "toolkit" / "src"))

from sagemaker_algorithm_toolkit.exceptions import UserError
from sagemaker_xgboost_container import data_utils
from sagemaker_xgboost_container.algorithm_mode import channel_validation
from sagemaker_xgboost_container.algorithm_mode import hyperparameter_validation as hpv

from emulator import builtin_metrics
from emulator.jobs.metrics import MetricExtractor

XGB = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
FILE = {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}


def test_valid_hyperparameters_are_parsed_with_aliases():
    assert hpv.validate({"num_round": "10", "learning_rate": "0.3", "max_depth": "4", "objective": "binary:logistic",
                         "eval_metric": "auc,error", "reg_alpha": "1"}) == {
        "num_round": 10, "eta": 0.3, "max_depth": 4, "objective": "binary:logistic", "eval_metric": ["auc", "error"],
        "alpha": 1.0}


@pytest.mark.parametrize("hyperparameters, message", [
    ({"objective": "reg:squarederror"}, "Missing required hyperparameter: num_round"),
    ({"num_round": "5", "epochs": "3"}, "Extraneous hyperparameter found: epochs"),
    ({"num_round": "5", "sagemaker_program": "train.py"}, "Extraneous hyperparameter found: sagemaker_program"),
    ({"num_round": "ten"}, "Hyperparameter num_round: could not parse value (caused by ValueError)"),
    ({"num_round": "0"}, "Hyperparameter num_round: 0 is not in [1, +inf)"),
    ({"num_round": "5", "eta": "1.5"}, "Hyperparameter eta: 1.5 is not in [0, 1]"),
    ({"num_round": "5", "subsample": "0"}, "Hyperparameter subsample: 0.0 is not in (0, 1]"),
    ({"num_round": "5", "booster": "forest"},
     "Hyperparameter booster: forest is not in ['gbtree', 'gblinear', 'dart']"),
    ({"num_round": "5", "objective": "multi:softmax"},
     "Require input for parameter 'num_class' for multi-classification"),
    ({"num_round": "5", "objective": "reg:squarederror", "eval_metric": "auc"},
     "Metric 'auc' can only be applied for classification and ranking problems."),
    ({"num_round": "5", "objective": "binary:logistic", "eval_metric": "error@x"},
     "Threshold value 't' in 'error@t' expects float input."),
    ({"num_round": "5", "objective": "binary:logistic", "eval_metric": "logloss,bogus"},
     "Hyperparameter eval_metric: value ['logloss', 'bogus'] not in range "
     f"{hpv.MAXIMIZE_METRICS + hpv.MINIMIZE_METRICS}"),
])
def test_invalid_hyperparameters_fail_with_sagemakers_message(hyperparameters, message):
    with pytest.raises(UserError) as failure:
        hpv.validate(hyperparameters)
    assert str(failure.value) == message


def test_channels_default_to_libsvm_and_only_train_validation_code_are_allowed():
    validated = channel_validation.validate({"train": dict(FILE), "validation": dict(FILE, ContentType="text/csv")})
    assert validated["train"]["ContentType"] == "text/libsvm" and validated["validation"]["ContentType"] == "text/csv"
    with pytest.raises(UserError, match="^Missing required channel: train$"):
        channel_validation.validate({"validation": dict(FILE)})
    with pytest.raises(UserError, match="^Extraneous channel found: test$"):
        channel_validation.validate({"train": dict(FILE), "test": dict(FILE)})
    with pytest.raises(UserError) as failure:
        channel_validation.validate({"train": dict(FILE, ContentType="application/json")})
    assert str(failure.value) == ("Channel configuration for 'train' channel is not supported: {'TrainingInputMode': "
                                  "'File', 'S3DistributionType': 'FullyReplicated', 'RecordWrapperType': 'None', "
                                  "'ContentType': 'application/json'}")


def test_content_types_map_to_the_reader():
    assert data_utils.get_content_type(None) == "libsvm"
    assert data_utils.get_content_type("text/csv; label_size=1") == "csv"
    assert data_utils.get_content_type("text/x-libsvm") == "libsvm"
    with pytest.raises(UserError, match="label_size must be equal to 1"):
        data_utils.get_content_type("text/csv;label_size=2")
    with pytest.raises(UserError, match="^image/png is not an accepted ContentType: csv, libsvm"):
        data_utils.get_content_type("image/png")


def test_data_files_skip_hidden_and_underscore_files(tmp_path):
    for name in ("b.csv", "a.csv", ".hidden", "_SUCCESS", "sub/c.csv"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("1,2\n")
    assert [Path(p).relative_to(tmp_path).as_posix() for p in data_utils.data_files(str(tmp_path))] == [
        "a.csv", "b.csv", "sub/c.csv"]


def test_builtin_xgboost_jobs_get_default_metric_definitions():
    algorithm = {"TrainingImage": XGB, "TrainingInputMode": "File"}
    filled = builtin_metrics.with_defaults(algorithm, {"num_round": "3"})
    names = [d["Name"] for d in filled["MetricDefinitions"]]
    assert {"train:rmse", "validation:rmse", "validation:auc", "train:mlogloss", "validation:f1"} <= set(names)
    assert len(names) == len(set(names)) == 2 * len(builtin_metrics.XGBOOST_METRICS)
    line = "[4]\ttrain-rmse:0.25752\ttrain-mae:0.21003\tvalidation-rmse:2.8281e-01\tvalidation-mae:0.23179"
    assert sorted(MetricExtractor(filled["MetricDefinitions"]).scan(line)) == [
        ("train:mae", 0.21003), ("train:rmse", 0.25752), ("validation:mae", 0.23179), ("validation:rmse", 0.28281)]
    # Script mode, the user's own definitions, and other images are left alone.
    assert "MetricDefinitions" not in builtin_metrics.with_defaults(algorithm, {"sagemaker_program": '"t.py"'})
    own = dict(algorithm, MetricDefinitions=[{"Name": "x", "Regex": "x=(.*)"}])
    assert builtin_metrics.with_defaults(own, {}) == own
    other = {"TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"}
    assert builtin_metrics.with_defaults(other, {}) == other
