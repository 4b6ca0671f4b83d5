"""Requests no botocore client would send, and botocore's own parser to read the answers.

Every request is signed (SigV4, botocore's signer) with the test keys the gateways accept, unless
``sign=False`` or other ``keys`` are given: the gateway refuses unsigned requests.
"""

from __future__ import annotations

import urllib.parse

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from support import REGION, S3_ACCESS, S3_SECRET

JSON_11 = "application/x-amz-json-1.1"
_client = httpx.Client(timeout=30)  # keep-alive: fuzzing sends hundreds of requests
_SERVICES = {"SageMaker": "sagemaker", "Logs_20140328": "logs", "GraniteServiceVersion20100801": "monitoring"}
_VERSIONS = {"2011-06-15": "sts", "2010-05-08": "iam", "2010-08-01": "monitoring"}


def sign(method: str, url: str, service: str, headers: dict[str, str], body: bytes = b"",
         keys: tuple[str, str] = (S3_ACCESS, S3_SECRET)) -> dict[str, str]:
    """``headers`` plus Host, X-Amz-Date and Authorization, as botocore signs ``url`` (already encoded)."""
    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    SigV4Auth(Credentials(*keys), service, REGION).add_auth(request)
    signed = dict(request.headers.items())
    signed.setdefault("Host", urllib.parse.urlsplit(url).netloc)
    return signed


def request(method: str, url: str, service: str, body: bytes = b"", headers: dict[str, str] | None = None,
            sign_it: bool = True, keys: tuple[str, str] = (S3_ACCESS, S3_SECRET)) -> httpx.Response:
    """Any request, signed for ``service`` (``url`` is sent as it is: encode it yourself)."""
    all_headers = dict(headers or {})
    if sign_it:
        all_headers = sign(method, url, service, all_headers, body, keys)
    return _client.send(_client.build_request(method, httpx.URL(url), content=body, headers=all_headers))


def post(url: str, target: str | None, body: bytes, content_type: str = JSON_11,
         headers: dict[str, str] | None = None, sign_it: bool = True) -> httpx.Response:
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if target:
        all_headers["X-Amz-Target"] = target
    service = _SERVICES.get((target or "").partition(".")[0], "sagemaker")
    return request("POST", url + "/", service, body, all_headers, sign_it)


def parse_json_error(response: httpx.Response) -> dict:
    """What boto3 would make of this response (JSON 1.1 protocol)."""
    parsed = create_parser("json").parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.content},
        None)
    return parsed


def post_form(url: str, form: dict[str, str] | bytes, query: str = "", sign_it: bool = True) -> httpx.Response:
    """A query-protocol request (form-encoded), as older botocore and the AWS CLI v1 send to CloudWatch."""
    body = form if isinstance(form, bytes) else urllib.parse.urlencode(form).encode()
    params = dict(urllib.parse.parse_qsl(body.decode("latin-1") + "&" + query))
    service = _VERSIONS.get(params.get("Version", ""), "sts")
    return request("POST", url + "/" + (f"?{query}" if query else ""), service, body,
                   {"Content-Type": "application/x-www-form-urlencoded"}, sign_it)


def parse_query_error(response: httpx.Response) -> dict:
    """What boto3 would make of a query-protocol (XML) error response."""
    return create_parser("query").parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.content}, None)
