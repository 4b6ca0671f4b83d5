"""smlocal's in-container toolkit: what AWS's SageMaker training and inference toolkits do inside
the framework images (training entry points, SM_* variables, model serving), written for smlocal."""

__version__ = "0.1.0"
