"""``sagemaker_tensorflow_serving_container.serving``: the TensorFlow image's ``serve`` (smlocal)."""

from smlocal_toolkit.serving import main  # noqa: F401
