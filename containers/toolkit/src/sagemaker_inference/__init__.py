"""``sagemaker_inference`` (the SageMaker inference toolkit) as far as inference scripts use it (smlocal)."""
