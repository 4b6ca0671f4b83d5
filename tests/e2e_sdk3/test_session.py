"""SDK 3's session defaults come from what ``smlocal env`` exports, and stay local: the default bucket from
the defaults file (no STS call), telemetry off, the region from AWS_DEFAULT_REGION, the caller's role from
the gateway's STS, and the audit hook that guards every test here does see a lookup beyond loopback."""

from __future__ import annotations

import os
import sys

from conftest import _LOCK, _OUTBOUND


def test_session_defaults_come_from_smlocal_env(session, s3):
    """(``Session.account_id()`` and ``get_execution_role()`` call STS at its hard-coded regional URL, in
    SDK 3 too, so they would leave the machine: docs/sdk.md. ModelTrainer's own role lookup does not.)"""
    from sagemaker.core.config.config_manager import SageMakerConfig
    from sagemaker.train.defaults import TrainDefaults

    assert session.boto_region_name == os.environ["AWS_DEFAULT_REGION"]
    account = session.boto_session.client("sts").get_caller_identity()["Account"]  # AWS_ENDPOINT_URL: smlocal
    assert session.default_bucket() == f"sagemaker-{session.boto_region_name}-{account}"
    s3.head_bucket(Bucket=session.default_bucket())
    telemetry = SageMakerConfig().resolve_value_from_config(
        config_path="SageMaker.PythonSDK.Modules.TelemetryOptOut", sagemaker_session=session)
    assert telemetry is True
    # a ModelTrainer without role= resolves and validates the caller's role through IAM and STS: smlocal's
    assert TrainDefaults.get_role(role=None, sagemaker_session=session) == \
        f"arn:aws:iam::{account}:role/SageMakerRole"


def test_the_audit_hook_sees_lookups_beyond_loopback():
    """Raised by hand (sys.audit), so nothing leaves the machine: the hook records it, and loopback not."""
    sys.audit("socket.getaddrinfo", "sts.us-east-1.amazonaws.com", 443, 0, 0, 0)
    sys.audit("socket.getaddrinfo", "127.0.0.1", 4599, 0, 0, 0)
    with _LOCK:
        seen = list(_OUTBOUND)
        _OUTBOUND.clear()
    assert seen == ["DNS lookup of sts.us-east-1.amazonaws.com:443"]
