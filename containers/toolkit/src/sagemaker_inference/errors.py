"""``sagemaker_inference.errors``."""

from smlocal_toolkit.encoders import UnsupportedFormatError  # noqa: F401
from smlocal_toolkit.serving.handlers import BaseInferenceToolkitError, GenericInferenceToolkitError  # noqa: F401
