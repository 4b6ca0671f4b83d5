"""``sagemaker_containers.beta.framework``: what scripts and framework code import from it. Submodules
load on first use (the serving codecs need numpy, training does not)."""

from __future__ import annotations

import importlib

_MODULES = {"env": "_env", "errors": "_errors", "modules": "_modules", "entry_point": "entry_point",
            "encoders": "_encoders", "content_types": "_content_types", "worker": "_worker"}


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(f"sagemaker_containers.{_MODULES[name]}")
    raise AttributeError(f"module 'sagemaker_containers.beta.framework' has no attribute {name!r} in smlocal")


def training_env(resource_config=None, input_data_config=None, hyperparameters=None):
    from sagemaker_containers import _env

    return _env.TrainingEnv(resource_config, input_data_config, hyperparameters)
