"""``sagemaker_tensorflow_container.training:main``: TensorFlow script mode, one process per instance.

The SDK's TensorFlow estimator passes ``--model_dir <s3 uri>``; as on SageMaker, scripts should save
the final model under SM_MODEL_DIR (/opt/ml/model), which is what becomes model.tar.gz. Parameter
servers, MultiWorkerMirroredStrategy and MPI launchers are not available: those distribution settings
fail with a clear reason."""

from __future__ import annotations

from sagemaker_training import environment
from smlocal_toolkit.entry_point import run_single_process

LAUNCHERS = ("sagemaker_parameter_server_enabled", "sagemaker_mpi_enabled",
             "sagemaker_multi_worker_mirrored_strategy_enabled", "sagemaker_distributed_dataparallel_enabled")


def train(training_environment):
    run_single_process(training_environment, "TensorFlow", LAUNCHERS)


def main():
    train(environment.Environment())
