"""smlocal's stand-in for AWS's sagemaker-training package: the parts training scripts import."""
