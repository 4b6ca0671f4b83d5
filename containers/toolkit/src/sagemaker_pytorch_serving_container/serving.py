"""``sagemaker_pytorch_serving_container.serving``: the PyTorch inference image's ``serve`` (smlocal)."""

from smlocal_toolkit.serving import main  # noqa: F401
