"""``sagemaker_training.entry_point.run``: fetch, install and run the user's entry point."""

from __future__ import annotations

from smlocal_toolkit import entry_point
from smlocal_toolkit.errors import ClientError

from sagemaker_training import runner


def run(uri, user_entry_point, args, env_vars=None, wait=True, capture_error=False,
        runner_type=runner.ProcessRunnerType, extra_opts=None):
    if runner_type != runner.ProcessRunnerType:
        raise ClientError(f"smlocal runs training scripts as one process per instance; the {runner_type} runner "
                          "(distributed training launcher) is not available.")
    if not wait:
        raise ClientError("smlocal's entry_point.run only supports wait=True.")
    return entry_point.run(uri, user_entry_point, args, env_vars, capture_error=capture_error)
