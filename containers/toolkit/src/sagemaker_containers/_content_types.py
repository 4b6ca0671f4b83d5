"""``sagemaker_containers._content_types`` (``beta.framework.content_types``)."""

from smlocal_toolkit.encoders import ANY, CSV, JSON, JSONLINES, NPY, NPZ, OCTET_STREAM, UTF8_TYPES  # noqa: F401
