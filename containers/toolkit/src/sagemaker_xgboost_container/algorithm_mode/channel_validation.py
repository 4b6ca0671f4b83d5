"""Built-in XGBoost channel validation (docs/container-contract.md 6.2): train (required), validation
and code only; ContentType defaults to text/libsvm; every channel states TrainingInputMode and
S3DistributionType."""

from __future__ import annotations

from sagemaker_algorithm_toolkit.exceptions import UserError

from sagemaker_xgboost_container.data_utils import VALID_CONTENT_TYPES, VALID_PIPED_CONTENT_TYPES

DEFAULT_CONTENT_TYPE = "text/libsvm"
MODES = ("File", "Pipe")
DISTRIBUTIONS = ("FullyReplicated", "ShardedByS3Key")


def _supported(name: str) -> set[tuple[str, str, str]]:
    if name == "code":
        return {("text/python", "File", "FullyReplicated")}
    file_mode = {(ct, "File", dist) for ct in VALID_CONTENT_TYPES for dist in DISTRIBUTIONS}
    return file_mode | {(ct, "Pipe", dist) for ct in VALID_PIPED_CONTENT_TYPES for dist in DISTRIBUTIONS}


def validate(data_config: dict) -> dict:
    if "train" not in data_config:
        raise UserError("Missing required channel: train")
    validated = {}
    for name, value in data_config.items():
        if name not in ("train", "validation", "code"):
            raise UserError(f"Extraneous channel found: {name}")
        value = dict(value)
        value.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
        if (value["ContentType"], value["TrainingInputMode"], value["S3DistributionType"]) not in _supported(name):
            raise UserError(f"Channel configuration for '{name}' channel is not supported: {value}")
        validated[name] = value
    return validated
