"""``sagemaker_tensorflow_container.training:main``: TensorFlow script mode, one process per instance.

The SDK's TensorFlow estimator passes ``--model_dir <s3 uri>``; as on SageMaker, scripts should save
the final model under SM_MODEL_DIR (/opt/ml/model), which is what becomes model.tar.gz. Parameter
servers, MultiWorkerMirroredStrategy and MPI launchers are not available: those distribution settings
fail with a clear reason."""

from __future__ import annotations

import logging

from sagemaker_training import entry_point, environment
from smlocal_toolkit.errors import ClientError

logger = logging.getLogger(__name__)
LAUNCHERS = ("sagemaker_parameter_server_enabled", "sagemaker_mpi_enabled",
             "sagemaker_multi_worker_mirrored_strategy_enabled", "sagemaker_distributed_dataparallel_enabled")


def train(training_environment):
    params = training_environment.additional_framework_parameters
    for flag in LAUNCHERS:
        if params.get(flag):
            raise ClientError(f"{flag}: smlocal runs TensorFlow scripts as one process per instance and has no "
                              "distributed launcher; remove the estimator's distribution setting.")
    logger.info("Invoking user training script.")
    entry_point.run(uri=training_environment.module_dir, user_entry_point=training_environment.user_entry_point,
                    args=training_environment.to_cmd_args(), env_vars=training_environment.to_env_vars(),
                    capture_error=True)


def main():
    train(environment.Environment())
