"""``sagemaker_xgboost_container.algorithm_mode.serve``: the built-in algorithm's model server (smlocal)."""

from smlocal_toolkit.serving import main as start  # noqa: F401
from smlocal_toolkit.serving.xgboost_algorithm import (  # noqa: F401
    MAX_CONTENT_LENGTH,
    SUPPORTED_ACCEPTS,
    AlgorithmService,
    load_boosters,
    parse_payload,
)
from smlocal_toolkit.serving.xgboost_data import csv_to_dmatrix, libsvm_to_dmatrix  # noqa: F401
