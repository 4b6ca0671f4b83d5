"""``sagemaker_xgboost_container.training:main``: XGBoost script mode when an entry point is given
(sagemaker_program / SAGEMAKER_PROGRAM; run as ``python -m <module>`` as the legacy toolkit does),
built-in algorithm mode otherwise (docs/container-contract.md 6.1)."""

from __future__ import annotations

import json
import logging
import os

from smlocal_toolkit import entry_point, environment

logger = logging.getLogger(__name__)


def _config(variable: str, name: str) -> str:
    return os.environ.get(variable) or os.path.join(environment.base_dir(), "input", "config", name)


def run_algorithm_mode():
    """Train from the raw hyperparameters.json / inputdataconfig.json and the SM_* variables."""
    from sagemaker_xgboost_container.algorithm_mode.train import sagemaker_train

    with open(_config("SM_INPUT_TRAINING_CONFIG_FILE", "hyperparameters.json")) as handle:
        train_config = json.load(handle)
    with open(_config("SM_INPUT_DATA_CONFIG_FILE", "inputdataconfig.json")) as handle:
        data_config = json.load(handle)
    checkpoint_file = _config("SM_CHECKPOINT_CONFIG_FILE", "checkpointconfig.json")
    checkpoint_config = {}
    if os.path.exists(checkpoint_file):
        with open(checkpoint_file) as handle:
            checkpoint_config = json.load(handle)
    sagemaker_train(train_config=train_config, data_config=data_config, train_path=os.environ["SM_CHANNEL_TRAIN"],
                    val_path=os.environ.get("SM_CHANNEL_VALIDATION"), model_dir=os.environ.get("SM_MODEL_DIR"),
                    sm_hosts=json.loads(os.environ["SM_HOSTS"]), sm_current_host=os.environ["SM_CURRENT_HOST"],
                    checkpoint_config=checkpoint_config)


def train(training_environment):
    if training_environment.user_entry_point is not None:
        logger.info("Invoking user training script.")
        entry_point.run(training_environment.module_dir, training_environment.module_name,
                        training_environment.to_cmd_args(), training_environment.to_env_vars(),
                        capture_error=False, legacy=True, module=True)
    else:
        logger.info("Running XGBoost Sagemaker in algorithm mode")
        environment.write_env_vars(training_environment.to_env_vars())
        run_algorithm_mode()


def main():
    train(environment.Environment())
