"""``sagemaker_inference.content_types``."""

from smlocal_toolkit.encoders import ANY, CSV, JSON, NPY, NPZ, OCTET_STREAM, UTF8_TYPES  # noqa: F401
