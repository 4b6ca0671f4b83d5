"""``sagemaker_containers._errors``."""

from smlocal_toolkit.errors import ClientError


class InstallModuleError(ClientError):
    """A module failed to install."""


class ImportModuleError(ClientError):
    """A module failed to import."""
