"""smlocal: a local Amazon SageMaker emulator."""

__version__ = "0.1.0"
