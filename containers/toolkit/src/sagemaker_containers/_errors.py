"""``sagemaker_containers._errors``."""

from smlocal_toolkit.errors import ClientError  # noqa: F401


class InstallModuleError(ClientError):
    """A module failed to install."""


class ImportModuleError(ClientError):
    """A module failed to import."""
