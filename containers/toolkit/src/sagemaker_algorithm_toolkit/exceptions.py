"""``sagemaker_algorithm_toolkit.exceptions``: the error families of SageMaker's built-in algorithm
containers. A message is the text given, plus " (caused by <ExceptionType>)" when one caused it."""


class BaseToolkitError(Exception):
    def __init__(self, message=None, caused_by=None):
        text = message or (str(caused_by) if caused_by else "unknown error occurred")
        if caused_by:
            text += f" (caused by {type(caused_by).__name__})"
        super().__init__(text)
        self.message, self.caused_by = text, caused_by


class AlgorithmError(BaseToolkitError):
    """A failure in the algorithm itself."""


class UserError(BaseToolkitError):
    """A failure the user can fix (hyperparameters, channels, data)."""


class PlatformError(BaseToolkitError):
    """A failure of the environment (missing directories, host count)."""
