"""Infrastructure: the container-runtime seam and Docker, S3 staging and uploads, log pumping, the platform contract."""
