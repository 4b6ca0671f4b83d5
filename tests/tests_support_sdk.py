"""Pointing unmodified SageMaker SDK / boto3 code at a test gateway, as `smlocal env` does."""

from __future__ import annotations

from pathlib import Path

import yaml

from emulator.config import S3Settings


def sdk_environment(monkeypatch, tmp_path: Path, gateway_url: str, s3: S3Settings, bucket: str) -> None:
    config = tmp_path / "sdk-config.yaml"
    config.write_text(yaml.safe_dump({"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {
        "TelemetryOptOut": True, "Session": {"DefaultS3Bucket": bucket}}}}}))
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", gateway_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", gateway_url)  # as `smlocal env` does
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
