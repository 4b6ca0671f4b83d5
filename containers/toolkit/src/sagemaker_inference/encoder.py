"""``sagemaker_inference.encoder``: array-likes to JSON / CSV / NPY."""

from smlocal_toolkit.serving.defaults import TOOLKIT_ENCODERS
from smlocal_toolkit.serving.defaults import toolkit_encode as encode  # noqa: F401

SUPPORTED_CONTENT_TYPES = set(TOOLKIT_ENCODERS)
