"""``sagemaker_training.errors``: the error classes framework code raises and catches."""

from smlocal_toolkit.errors import ClientError, ExecuteUserScriptError  # noqa: F401


class InstallModuleError(ClientError):
    """A module failed to install."""


class InstallRequirementsError(ClientError):
    """requirements.txt failed to install."""


class ImportModuleError(ClientError):
    """A module failed to import."""
