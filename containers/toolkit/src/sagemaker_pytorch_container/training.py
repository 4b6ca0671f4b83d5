"""``sagemaker_pytorch_container.training:main``: PyTorch script mode on one process per instance.

Like AWS's image, the script's error lines are captured into the failure message unless the
``sagemaker_capture_error`` hyperparameter (hidden) is false. Distributed launchers (torchrun, MPI,
smdistributed) are not available: those distribution settings fail with a clear reason."""

from __future__ import annotations

from sagemaker_training import environment
from smlocal_toolkit.entry_point import run_single_process

LAUNCHERS = ("sagemaker_mpi_enabled", "sagemaker_distributed_dataparallel_enabled",
             "sagemaker_torch_distributed_enabled", "sagemaker_pytorch_xla_multi_worker_enabled")


def train(training_environment):
    params = training_environment.additional_framework_parameters
    capture_error = params.get("sagemaker_capture_error", True) not in (False, "false", "False")
    run_single_process(training_environment, "PyTorch", LAUNCHERS, capture_error)


def main():
    train(environment.Environment())
