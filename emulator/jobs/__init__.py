"""Job execution: staging data between S3 and the host, running job containers."""
