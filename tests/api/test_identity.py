"""STS and IAM in the query protocol, as boto3 and the SageMaker SDK call them."""

from __future__ import annotations

import boto3
import pytest
import sagemaker
from botocore.config import Config
from support import S3_ACCESS, S3_SECRET

ACCOUNT = "123456789012"


def test_get_caller_identity(gateway):
    identity = gateway.client("sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/SageMakerRole/smlocal"
    assert identity["UserId"].startswith("AROA") and identity["UserId"].endswith(":smlocal")


def test_get_role_returns_a_parsed_trust_policy(gateway):
    role = gateway.client("iam").get_role(RoleName="AnyRoleAtAll")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/AnyRoleAtAll"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}


def test_simulate_principal_policy_allows_every_action(gateway):
    result = gateway.client("iam").simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/r", ActionNames=["s3:GetObject", "sagemaker:CreateModel"],
        ResourceArns=["arn:aws:s3:::b/*"])
    assert [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in result["EvaluationResults"]] == [
        ("s3:GetObject", "arn:aws:s3:::b/*", "allowed"), ("sagemaker:CreateModel", "arn:aws:s3:::b/*", "allowed")]
    assert result["IsTruncated"] is False


def test_routing_uses_the_sigv4_scope_when_version_is_missing(gateway):
    import rawclient as raw

    reply = raw.request("POST", gateway.url + "/", "iam", b"Action=GetRole&RoleName=r",
                        {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 200
    assert '<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">' in reply.text


def test_sdk_get_execution_role_resolves_the_role(gateway, monkeypatch):
    """The SDK calls STS at a hard-coded AWS URL; with that one URL pointed at us the rest is unmodified."""
    session = boto3.Session(aws_access_key_id=S3_ACCESS, aws_secret_access_key=S3_SECRET, region_name="us-east-1")
    original = session.client

    def client(service, *args, **kwargs):
        kwargs["endpoint_url"] = gateway.url
        kwargs.setdefault("config", Config(retries={"max_attempts": 1}))
        return original(service, *args, **kwargs)

    monkeypatch.setattr(session, "client", client)
    sm_session = sagemaker.Session(boto_session=session, sagemaker_client=client("sagemaker"),
                                   sagemaker_runtime_client=client("sagemaker-runtime"))
    assert sagemaker.get_execution_role(sm_session) == f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"


@pytest.mark.parametrize("body", [b"Action=GetCallerIdentity", b"Action=GetCallerIdentity&Version=2011-06-15&x=%ZZ"])
def test_query_requests_without_version_or_with_odd_encoding_still_answer(gateway, body):
    import rawclient as raw

    reply = raw.request("POST", gateway.url + "/", "sts", body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status_code == 200 and "<Account>123456789012</Account>" in reply.text
