"""Who may call (issue 18, item 3): SigV4 on every service, S3 through the gateway included, the Host
check, Origin refusals, CORS preflights answered by the gateway and the SMLOCAL_AUTH=off opt-out.
The exact codes and messages of each refusal are rows AU01-AU15 of docs/errors.md."""

from __future__ import annotations

import json
import time

import boto3
import httpx
import pytest
import rawclient as raw
from botocore.config import Config
from botocore.exceptions import ClientError
from support import REGION, S3_ACCESS, S3_SECRET, live_gateway

from emulator.config import S3Settings, Settings

BUCKET = "auth-tests"


def s3_client(url: str, secret: str = S3_SECRET, **config):
    return boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id=S3_ACCESS,
                        aws_secret_access_key=secret,
                        config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **config))


@pytest.fixture(scope="module")
def s3gw(tmp_path_factory, embedded_s3):
    direct = s3_client(embedded_s3.endpoint)
    if BUCKET not in {b["Name"] for b in direct.list_buckets()["Buckets"]}:
        direct.create_bucket(Bucket=BUCKET)
    settings = S3Settings(endpoint=embedded_s3.endpoint, access_key=S3_ACCESS, secret_key=S3_SECRET)
    with live_gateway(tmp_path_factory.mktemp("auth"), s3=settings,
                      cors_origins=("http://allowed.example:8000",)) as gateway:
        yield gateway


def test_every_service_refuses_a_wrong_secret(gateway):
    def wrong(service):
        return boto3.client(service, endpoint_url=gateway.url, region_name=REGION, aws_access_key_id=S3_ACCESS,
                            aws_secret_access_key="wrong", config=Config(retries={"max_attempts": 1}))

    calls = {"sagemaker": lambda c: c.list_models(), "logs": lambda c: c.describe_log_groups(),
             "cloudwatch": lambda c: c.list_metrics(), "sts": lambda c: c.get_caller_identity(),
             "iam": lambda c: c.get_role(RoleName="r"),
             "sagemaker-runtime": lambda c: c.invoke_endpoint(EndpointName="e", Body=b"1")}
    codes = {}
    for service, call in calls.items():
        with pytest.raises(ClientError) as info:
            call(wrong(service))
        codes[service] = info.value.response["Error"]["Code"]
        assert 'eval "$(smlocal env)"' in info.value.response["Error"]["Message"]
    assert codes == {"sagemaker": "InvalidSignatureException", "logs": "InvalidSignatureException",
                     "cloudwatch": "InvalidSignatureException", "sts": "SignatureDoesNotMatch",
                     "iam": "SignatureDoesNotMatch", "sagemaker-runtime": "InvalidSignatureException"}


def test_nothing_happens_for_an_unsigned_create(gateway, sm, unique):
    body = {"ModelName": unique, "ExecutionRoleArn": "arn:aws:iam::123456789012:role/r",
            "PrimaryContainer": {"Image": "x:1"}}
    reply = raw.post(gateway.url, "SageMaker.CreateModel", json.dumps(body).encode(), sign_it=False)
    assert reply.status_code == 400 and reply.json()["__type"] == "MissingAuthenticationTokenException"
    assert unique not in [m["ModelName"] for m in sm.list_models(NameContains=unique)["Models"]]


def test_a_changed_body_breaks_the_signature(gateway):
    headers = raw.sign("POST", gateway.url + "/", "sagemaker",
                       {"X-Amz-Target": "SageMaker.ListModels", "Content-Type": raw.JSON_11}, b"{}")
    reply = httpx.post(gateway.url + "/", content=b'{"MaxResults": 1}', headers=headers)
    assert reply.json()["__type"] == "InvalidSignatureException"


def test_signed_s3_through_the_gateway_and_presigned_urls(s3gw):
    s3 = s3_client(s3gw.url)
    s3.put_object(Bucket=BUCKET, Key="dir/a b+c.txt", Body=b"hello")
    assert s3.get_object(Bucket=BUCKET, Key="dir/a b+c.txt")["Body"].read() == b"hello"
    s3.put_object(Bucket=BUCKET, Key="dir/plain.txt", Body=b"hello")
    # None: boto3's default presigner here, signature version 2 (SeaweedFS itself refuses version 2
    # for keys with a space or a plus, which the gateway accepts: the plain key)
    for version, key in (("s3v4", "dir/a b+c.txt"), (None, "dir/plain.txt")):
        url = s3_client(s3gw.url, signature_version=version).generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=60)
        reply = httpx.get(url)
        assert reply.status_code == 200 and reply.content == b"hello", (version, reply.text)
    with pytest.raises(ClientError) as info:
        s3_client(s3gw.url, secret="wrong").get_object(Bucket=BUCKET, Key="dir/a b+c.txt")
    assert info.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unsigned = httpx.get(f"{s3gw.url}/{BUCKET}/dir/a%20b%2Bc.txt")
    assert unsigned.status_code == 403 and "<Code>AccessDenied</Code>" in unsigned.text


def test_preflights_are_answered_by_the_gateway_never_by_the_s3_server(s3gw):
    for path in (f"/{BUCKET}/dir/a", "/", "/endpoints/e/invocations"):
        reply = httpx.request("OPTIONS", s3gw.url + path, headers={
            "Origin": "http://evil.example", "Access-Control-Request-Method": "PUT"})
        assert reply.status_code == 403 and "<Code>AccessForbidden</Code>" in reply.text or \
            reply.json()["__type"] == "AccessForbidden", (path, reply.text)
        assert not any(k.startswith("access-control-") for k in reply.headers), path
    allowed = httpx.request("OPTIONS", f"{s3gw.url}/{BUCKET}/x", headers={
        "Origin": "http://allowed.example:8000", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,x-amz-date"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://allowed.example:8000"
    assert allowed.headers["access-control-allow-headers"] == "authorization,x-amz-date"
    no_origin = httpx.request("OPTIONS", f"{s3gw.url}/{BUCKET}/x")
    assert no_origin.status_code == 400


def test_an_allowed_origin_gets_cors_headers_and_only_its_own(s3gw):
    s3 = s3_client(s3gw.url)
    s3.put_object(Bucket=BUCKET, Key="cors.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "cors.txt"})
    reply = httpx.get(url, headers={"Origin": "http://allowed.example:8000"})
    assert reply.status_code == 200 and reply.headers["access-control-allow-origin"] == "http://allowed.example:8000"
    assert reply.headers.get_list("access-control-allow-origin") == ["http://allowed.example:8000"]
    assert "access-control-allow-credentials" not in reply.headers
    plain = httpx.get(url)
    assert plain.status_code == 200 and not any(k.startswith("access-control-") for k in plain.headers)
    foreign = httpx.get(url, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "access-control-allow-origin" not in foreign.headers


@pytest.mark.parametrize("host", ["rebound.example:{port}", "127.0.0.2:{port}", "localhost.evil.example:{port}", ""])
def test_foreign_hosts_are_refused_on_every_path(gateway, host):
    port = gateway.port
    for path, service in (("/", "sagemaker"), ("/endpoints/e/invocations", "sagemaker"), ("/bucket/key", "s3")):
        reply = raw.request("POST" if service == "sagemaker" else "GET", gateway.url + path, service, b"{}", {
            "X-Amz-Target": "SageMaker.ListModels", "Content-Type": raw.JSON_11, "Host": host.format(port=port)})
        assert reply.status_code == 403, (host, path, reply.text)
        assert "DNS rebinding" in reply.text


@pytest.mark.parametrize("host", ["localhost:{port}", "127.0.0.1:{port}", "LOCALHOST:{port}", "[::1]:{port}"])
def test_served_hosts_are_accepted(gateway, host):
    reply = raw.request("POST", gateway.url + "/", "sagemaker", b"{}", {
        "X-Amz-Target": "SageMaker.ListModels", "Content-Type": raw.JSON_11, "Host": host.format(port=gateway.port)})
    assert reply.status_code == 200, reply.text


def test_extra_hosts_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SMLOCAL_HOSTS", "smlocal.internal")
    with live_gateway(tmp_path) as gw:
        reply = raw.request("POST", gw.url + "/", "sagemaker", b"{}", {
            "X-Amz-Target": "SageMaker.ListModels", "Content-Type": raw.JSON_11,
            "Host": f"smlocal.internal:{gw.port}"})
        assert reply.status_code == 200


def test_auth_off_lets_unsigned_requests_in_but_keeps_host_and_origin_checks(tmp_path, monkeypatch):
    monkeypatch.setenv("SMLOCAL_AUTH", "off")
    assert Settings(data_dir=tmp_path).auth is False
    with live_gateway(tmp_path) as gw:
        assert gw.settings.auth is False
        assert raw.post(gw.url, "SageMaker.ListModels", b"{}", sign_it=False).status_code == 200
        assert raw.post(gw.url, "SageMaker.ListModels", b"{}", sign_it=False,
                        headers={"Origin": "http://evil.example"}).status_code == 403
        assert raw.post(gw.url, "SageMaker.ListModels", b"{}", sign_it=False,
                        headers={"Host": "evil.example"}).status_code == 403


def test_console_and_health_need_no_signature(gateway):
    assert httpx.get(gateway.url + "/_smlocal/health").json()["status"] == "ok"
    assert httpx.get(gateway.url + "/_smlocal/").status_code == 200


def test_signature_verification_cost_is_small():
    """Sanity bound only (the measurement is bench/auth_overhead.py): a verification is microseconds."""
    from emulator.api.sigv4 import Verifier

    headers = raw.sign("POST", "http://127.0.0.1:4599/endpoints/e/invocations", "sagemaker",
                       {"Content-Type": "text/csv"}, b"1,2,3")
    wire = [(k.lower(), v) for k, v in headers.items()]
    verifier = Verifier(S3_ACCESS, S3_SECRET)
    started = time.perf_counter()
    for _ in range(200):
        verifier.verify("POST", "/endpoints/e/invocations", "", wire, b"1,2,3")
    assert (time.perf_counter() - started) / 200 < 0.005
