"""SSE-KMS requests without a KMS: the SageMaker SDK uploads code and repacked models with
``ServerSideEncryption: aws:kms`` (no key id), which S3 stand-ins without a configured KMS refuse
(SeaweedFS answers 500, MinIO 400). AWS S3 encrypts such objects with the account's default key,
transparently to every reader, so on a laptop the faithful equivalent is to store them as is.

The SSE headers are part of the SigV4 signature, so they cannot simply be dropped: the gateway checks
the client's signature with the S3 server's own keys, removes the SSE-KMS headers and signs the request
again with the same keys and timestamp (the payload hash header is kept, so the body is untouched).
Requests signed with other keys, or whose signature does not verify, pass through unchanged and the S3
server answers them as it would.
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import quote

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SSE_KMS_HEADERS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
                   "x-amz-server-side-encryption-context", "x-amz-server-side-encryption-bucket-key-enabled")
_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/s3/aws4_request,"
                   r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$")


def wants_kms(headers: list[tuple[str, str]]) -> bool:
    return any(k.lower() == "x-amz-server-side-encryption" and v.lower().startswith("aws:kms") for k, v in headers)


def _sign(access_key: str, secret_key: str, region: str, timestamp: str, method: str, url: str,
          headers: list[tuple[str, str]]) -> tuple[str, str]:
    """(signature, signed header list) of a request made of exactly ``headers``."""
    auth = S3SigV4Auth(Credentials(access_key, secret_key), "s3", region)
    request = AWSRequest(method=method, url=url, headers=dict(headers))
    request.context["timestamp"] = timestamp
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    return signature, auth.signed_headers(auth.headers_to_sign(request))


def strip_kms(method: str, raw_path: str, query: str, headers: list[tuple[str, str]], access_key: str,
              secret_key: str) -> list[tuple[str, str]] | None:
    """The request's headers without SSE-KMS, signed again; None to forward the request unchanged."""
    values = {k.lower(): v for k, v in headers}
    match = _AUTH.match(values.get("authorization", ""))
    timestamp = values.get("x-amz-date", "")
    if match is None or match["key"] != access_key or not timestamp.startswith(match["date"]):
        return None
    signed = match["signed"].split(";")
    if any(name not in values for name in signed):
        return None
    url = f"http://{values.get('host', 'localhost')}{quote(raw_path, safe='/~%')}" + (f"?{query}" if query else "")
    original = [(name, values[name]) for name in signed]
    check, _ = _sign(access_key, secret_key, match["region"], timestamp, method, url, original)
    if not hmac.compare_digest(check, match["signature"]):
        return None
    kept = [(name, value) for name, value in original if name not in SSE_KMS_HEADERS]
    signature, signed_list = _sign(access_key, secret_key, match["region"], timestamp, method, url, kept)
    authorization = (f"AWS4-HMAC-SHA256 Credential={access_key}/{match['date']}/{match['region']}/s3/aws4_request, "
                     f"SignedHeaders={signed_list}, Signature={signature}")
    return [(k, v) for k, v in headers if k.lower() not in SSE_KMS_HEADERS and k.lower() != "authorization"] + [
        ("authorization", authorization)]
