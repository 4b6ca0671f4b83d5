"""``sagemaker_pytorch_serving_container.default_pytorch_inference_handler`` (smlocal)."""

from smlocal_toolkit.serving.defaults import ModelLoadError  # noqa: F401
from smlocal_toolkit.serving.defaults import PytorchDefaults as DefaultPytorchInferenceHandler  # noqa: F401

DEFAULT_MODEL_FILENAME = "model.pt"
