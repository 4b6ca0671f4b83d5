"""``sagemaker_inference.default_inference_handler``: base class of framework default handlers."""

from smlocal_toolkit.serving.defaults import ToolkitDefaults as DefaultInferenceHandler  # noqa: F401
