"""``sagemaker_containers._env`` (``beta.framework.env``): TrainingEnv and the /opt/ml helpers."""

from sagemaker_training.environment import (  # noqa: F401 - re-exported API
    Environment as TrainingEnv,
)
