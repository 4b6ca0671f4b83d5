"""SigV4 verification (emulator/api/sigv4.py) against requests botocore's real clients sign."""

from __future__ import annotations

import time
import urllib.parse

import boto3
import pytest
from botocore.config import Config

from emulator.api.sigv4 import AuthError, Failure, Verifier, scope_service

ACCESS, SECRET = "AKIASMLOCALUNIT00001", "unit-secret-0123456789"
URL = "http://127.0.0.1:4599"


class Captured(Exception):
    def __init__(self, request) -> None:
        self.request = request


def _capture(request, **kwargs):
    raise Captured(request)


def client(service: str, secret: str = SECRET, access: str = ACCESS, **config):
    c = boto3.client(service, endpoint_url=URL, region_name="us-east-1", aws_access_key_id=access,
                     aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}, **config))
    c.meta.events.register("before-send", _capture)
    return c


def wire(call, *args, **kwargs):
    """(method, raw path, query, headers, body) of the request a botocore call sends."""
    with pytest.raises(Captured) as info:
        call(*args, **kwargs)
    return from_prepared(info.value.request)


def from_prepared(request):
    parts = urllib.parse.urlsplit(request.url)
    headers = [("host", parts.netloc)] + [(k.lower(), v.decode() if isinstance(v, bytes) else v)
                                          for k, v in request.headers.items()]
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return request.method, parts.path, parts.query, headers, body or b""


def verify(req, verifier=None, s3=False):
    method, path, query, headers, body = req
    return (verifier or Verifier(ACCESS, SECRET)).verify(method, path, query, headers, None if s3 else body,
                                                         s3=s3)


def test_json_rest_json_and_query_services_verify():
    assert verify(wire(client("sagemaker").list_models)).service == "sagemaker"
    req = wire(client("sagemaker").create_model, ModelName="m", ExecutionRoleArn="arn:aws:iam::1:role/r",
               PrimaryContainer={"Image": "x:1", "Environment": {"A": "b c"}})
    assert verify(req).service == "sagemaker"
    req = wire(client("sagemaker-runtime").invoke_endpoint, EndpointName="ep-1", Body=b"1,2,3",
               ContentType="text/csv", CustomAttributes="a=b; c")
    assert verify(req).service == "sagemaker"
    assert verify(wire(client("logs").describe_log_groups, logGroupNamePrefix="/aws/sagemaker")).service == "logs"
    assert verify(wire(client("sts").get_caller_identity)).service == "sts"
    assert verify(wire(client("iam").get_role, RoleName="r")).service == "iam"
    assert verify(wire(client("cloudwatch").list_metrics, Namespace="/aws/sagemaker/TrainingJobs")).service \
        == "monitoring"


def test_s3_header_auth_uses_the_raw_path_and_the_declared_payload_hash():
    s3 = client("s3", s3={"addressing_style": "path"})
    req = wire(s3.put_object, Bucket="b", Key="dir/a key+with~odd=chars%.txt", Body=b"hello")
    assert "%20" in req[1] and verify(req, s3=True).service == "s3"
    req = wire(s3.list_objects_v2, Bucket="b", Prefix="a b/", Delimiter="/")
    assert verify(req, s3=True).service == "s3"
    v2 = client("s3", s3={"addressing_style": "path"}, signature_version="s3")
    req = wire(v2.put_object, Bucket="b", Key="k 1", Body=b"x", ContentType="text/plain", Metadata={"a": "b"})
    assert dict(req[3])["authorization"].startswith("AWS ") and verify(req, s3=True).service == "s3"
    with pytest.raises(AuthError):
        verify(wire(client("s3", secret="bad", signature_version="s3").list_buckets), s3=True)


@pytest.mark.parametrize("version", ["s3v4", None])   # None: boto3's default, signature version 2 here
def test_s3_presigned_urls_verify_and_expire(version):
    s3 = boto3.client("s3", endpoint_url=URL, region_name="us-east-1", aws_access_key_id=ACCESS,
                      aws_secret_access_key=SECRET,
                      config=Config(s3={"addressing_style": "path"}, signature_version=version))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "x y.txt"}, ExpiresIn=60)
    parts = urllib.parse.urlsplit(url)
    req = ("GET", parts.path, parts.query, [("host", parts.netloc)], b"")
    assert verify(req, s3=True).presigned
    assert ("X-Amz-Signature=" in url) == (version == "s3v4")
    later = Verifier(ACCESS, SECRET, clock=lambda: time.time() + 120)
    with pytest.raises(AuthError) as info:
        verify(req, later, s3=True)
    assert info.value.failure is Failure.EXPIRED
    tampered = (req[0], req[1].replace("x%20y", "other"), req[2], req[3], b"")
    with pytest.raises(AuthError) as info:
        verify(tampered, s3=True)
    assert info.value.failure is Failure.MISMATCH


@pytest.mark.parametrize("case, failure", [
    ("wrong secret", Failure.MISMATCH), ("wrong key", Failure.UNKNOWN_KEY), ("unsigned", Failure.MISSING),
    ("changed body", Failure.MISMATCH), ("changed host", Failure.MISMATCH), ("old", Failure.SKEWED),
    ("garbage", Failure.MALFORMED)])
def test_refusals(case, failure):
    sm = client("sagemaker", secret="wrong" if case == "wrong secret" else SECRET,
                access="AKIAOTHER" if case == "wrong key" else ACCESS)
    method, path, query, headers, body = wire(sm.list_models)
    if case == "unsigned":
        headers = [(k, v) for k, v in headers if k != "authorization"]
    if case == "changed body":
        body = b'{"MaxResults": 1}'
    if case == "changed host":
        headers = [("host", "evil.example:4599") if k == "host" else (k, v) for k, v in headers]
    if case == "garbage":
        headers = [("authorization", "AWS4-HMAC-SHA256 Credential=x") if k == "authorization" else (k, v)
                   for k, v in headers]
    verifier = Verifier(ACCESS, SECRET, clock=(lambda: time.time() + 3600) if case == "old" else time.time)
    with pytest.raises(AuthError) as info:
        verifier.verify(method, path, query, headers, body)
    assert info.value.failure is failure
    if case == "old":
        assert info.value.detail.startswith("Signature expired: ")


def test_spec_encoded_query_strings_verify_too():
    """Another SDK may send a query encoded differently from its canonical form (+ for a space)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest("GET", URL + "/", params={"Action": "GetCallerIdentity", "Version": "2011-06-15",
                                                   "Note": "a b/c"})
    SigV4Auth(Credentials(ACCESS, SECRET), "sts", "us-east-1").add_auth(request)
    headers = [("host", "127.0.0.1:4599")] + [(k.lower(), v) for k, v in request.headers.items()]
    wire_query = "Version=2011-06-15&Action=GetCallerIdentity&Note=a+b%2Fc"   # same params, other spelling
    assert Verifier(ACCESS, SECRET).verify("GET", "/", wire_query, headers, b"").service == "sts"


def test_signing_keys_are_cached():
    verifier = Verifier(ACCESS, SECRET)
    req = wire(client("sagemaker").list_models)
    verify(req, verifier)
    verify(req, verifier)
    assert len(verifier._keys) == 1


def test_scope_service():
    assert scope_service("AWS4-HMAC-SHA256 Credential=K/20240101/us-east-1/sts/aws4_request, "
                         "SignedHeaders=host, Signature=00", "") == "sts"
    assert scope_service(None, "X-Amz-Credential=K%2F20240101%2Fus-east-1%2Fs3%2Faws4_request") == "s3"
    assert scope_service(None, "") is None
