"""smlocal's stand-in for AWS's legacy sagemaker-containers package (still imported by many scripts)."""


def training_env():
    """The training environment (``sagemaker_containers.training_env()``)."""
    from sagemaker_containers import _env

    return _env.TrainingEnv()
