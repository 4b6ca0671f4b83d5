"""``sagemaker_pytorch_container.training:main``: PyTorch script mode on one process per instance.

Like AWS's image, the script's error lines are captured into the failure message unless the
``sagemaker_capture_error`` hyperparameter (hidden) is false. Distributed launchers (torchrun, MPI,
smdistributed) are not available: those distribution settings fail with a clear reason."""

from __future__ import annotations

import logging

from sagemaker_training import entry_point, environment
from smlocal_toolkit.errors import ClientError

logger = logging.getLogger(__name__)
LAUNCHERS = ("sagemaker_mpi_enabled", "sagemaker_distributed_dataparallel_enabled",
             "sagemaker_torch_distributed_enabled", "sagemaker_pytorch_xla_multi_worker_enabled")


def train(training_environment):
    params = training_environment.additional_framework_parameters
    for flag in LAUNCHERS:
        if params.get(flag):
            raise ClientError(f"{flag}: smlocal runs PyTorch scripts as one process per instance and has no "
                              "distributed launcher; remove the estimator's distribution setting.")
    capture_error = params.get("sagemaker_capture_error", True) not in (False, "false", "False")
    logger.info("Invoking user training script.")
    entry_point.run(uri=training_environment.module_dir, user_entry_point=training_environment.user_entry_point,
                    args=training_environment.to_cmd_args(), env_vars=training_environment.to_env_vars(),
                    capture_error=capture_error)


def main():
    train(environment.Environment())
