"""What the XGBoost toolkit keeps of AWS's images before 1.3 when a job asks for one (0.72 `latest`,
0.90-x, 1.0-1) and runs on smlocal's 1.7 image: `silent` accepted (docs/images.md, "Older versions").
The pickled Booster, the CSV default and `exact` on several instances are checked in the image
(tests/integration/test_images_training_xgboost.py, test_toolkit_serving_xgboost.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "containers" / "toolkit" / "src"))

from sagemaker_algorithm_toolkit.exceptions import UserError
from sagemaker_xgboost_container.algorithm_mode import hyperparameter_validation as hpv
from sagemaker_xgboost_container.algorithm_mode.train import _legacy_hyperparameters
from smlocal_toolkit import framework_version


@pytest.mark.parametrize("version, legacy", [("1.0-1", True), ("0.90-2", True), ("0.90-1", True), ("0.72", True),
                                             ("1.2-2", True), ("1.3-1", False), ("1.7-1", False), ("", False)])
def test_which_versions_are_before_1_3(monkeypatch, version, legacy):
    monkeypatch.setenv("SMLOCAL_FRAMEWORK_VERSION", version)
    assert framework_version.xgboost_legacy() is legacy


def test_silent_is_refused_by_the_current_validator_and_read_as_verbosity_before_1_3():
    config = {"num_round": "5", "objective": "binary:logistic", "silent": "1"}
    with pytest.raises(UserError, match="Extraneous hyperparameter found: silent"):
        hpv.validate(config)
    legacy = _legacy_hyperparameters(config)
    assert legacy == {"num_round": "5", "objective": "binary:logistic", "verbosity": "0"}
    assert hpv.validate(legacy)["verbosity"] == 0
    assert _legacy_hyperparameters({**config, "silent": "0"}) == {"num_round": "5", "objective": "binary:logistic"}
    assert _legacy_hyperparameters({**config, "verbosity": "2"})["verbosity"] == "2"   # an explicit one wins
    with pytest.raises(UserError, match="silent: value 7"):
        _legacy_hyperparameters({**config, "silent": "7"})
