"""Hyperparameter decoding and the two renderings of a training environment AWS's toolkits use:
SM_* environment variables and the user script's command-line arguments
(docs/container-contract.md 2.3, 2.4)."""

from __future__ import annotations

import json
from typing import Any

SAGEMAKER_PREFIX = "sagemaker_"
# Reserved keys removed from the user's hyperparameters (and not passed as SM_FRAMEWORK_PARAMS).
SAGEMAKER_HYPERPARAMETERS = (
    "sagemaker_program", "sagemaker_submit_directory", "sagemaker_enable_cloudwatch_metrics", "sagemaker_region",
    "sagemaker_container_log_level", "sagemaker_job_name", "default_user_module_name", "_tuning_objective_metric",
    "sagemaker_s3_output",
)


def decode_value(value: Any) -> Any:
    """A hyperparameters.json value as the toolkit sees it: JSON when it parses, the raw string otherwise."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def decode_hyperparameters(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: decode_value(value) for key, value in raw.items()}


def split_hyperparameters(hyperparameters: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(sagemaker ones, user ones): reserved keys and every ``sagemaker_*`` key go to the first."""
    reserved = {k: v for k, v in hyperparameters.items()
                if k in SAGEMAKER_HYPERPARAMETERS or k.startswith(SAGEMAKER_PREFIX)}
    return reserved, {k: v for k, v in hyperparameters.items() if k not in reserved}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("latin1")
    return str(value)


def to_cmd_args(hyperparameters: dict[str, Any]) -> list[str]:
    """Sorted ``--key value`` pairs (``-k`` for one-letter keys); dicts as ``k1=v1,k2=v2``; True/False; None -> ''."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        name = _text(key)
        args.append(("--" if len(name) > 1 else "-") + name if name else "")
        value = hyperparameters[key]
        if hasattr(value, "items"):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append(_text(value))
    return args


def env_value(value: Any) -> str:
    """Strings as they are, None as '', everything else compact JSON with sorted keys."""
    if isinstance(value, bytes):
        return value.decode("latin1")
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def to_env_vars(mapping: dict[str, Any]) -> dict[str, str]:
    return {f"SM_{str(key).upper()}" if key else "": env_value(value) for key, value in mapping.items()}
