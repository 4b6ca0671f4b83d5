"""``sagemaker_training.environment``: the Environment class and module-level helpers scripts use."""

from __future__ import annotations

import os

from smlocal_toolkit.environment import (  # noqa: F401 - re-exported API
    Environment,
    base_dir,
    channel_path,
    num_cpus,
    num_gpus,
    num_neurons,
    read_hyperparameters,
    read_input_data_config,
    read_resource_config,
    write_env_vars,
)

code_dir = os.path.join(base_dir(), "code")
model_dir = os.path.join(base_dir(), "model")
input_dir = os.path.join(base_dir(), "input")
input_config_dir = os.path.join(input_dir, "config")
output_dir = os.path.join(base_dir(), "output")
output_data_dir = os.path.join(output_dir, "data")
output_intermediate_dir = os.path.join(output_dir, "intermediate")
