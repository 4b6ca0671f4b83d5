"""``sagemaker_inference.decoder``: JSON / CSV / NPY to numpy, NPZ to a scipy sparse matrix."""

from smlocal_toolkit.serving.defaults import toolkit_decode as decode  # noqa: F401
