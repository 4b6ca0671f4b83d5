"""``sagemaker_inference.utils`` (the request helpers scripts use)."""

from smlocal_toolkit.encoders import parse_accept  # noqa: F401
