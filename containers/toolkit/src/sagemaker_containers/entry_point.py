"""``sagemaker_containers.entry_point.run``: fetch, install and run the user's entry point."""

from smlocal_toolkit import entry_point


def run(uri, user_entry_point, args, env_vars=None, wait=True, capture_error=False, runner=None, extra_opts=None):
    return entry_point.run(uri, user_entry_point, args, env_vars, capture_error=capture_error, legacy=True)
