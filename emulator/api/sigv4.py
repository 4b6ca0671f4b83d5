"""Checking AWS Signature Version 4 on the requests the gateway receives.

Every AWS request (SageMaker, runtime, Logs, CloudWatch, STS, IAM, S3) must be signed with the keys
``smlocal env`` hands out (``Settings.api_credentials``: the S3 keys unless set otherwise), in the
``Authorization`` header or, for presigned URLs, in the query string (``X-Amz-Signature``).

The canonical request is rebuilt from the request *as received*: the raw path and query string as
they came on the wire, exactly the headers the client names in ``SignedHeaders`` (every value, in
order), and the payload hash (the body's SHA-256, or S3's ``x-amz-content-sha256`` header). The
pieces are botocore's own (``SigV4Auth``'s path normalisation, query, header and string-to-sign
rules), so whatever botocore signs verifies byte for byte. Two canonical query strings are tried:
botocore's (the wire's encoding, sorted) and the specification's (each name and value decoded and
encoded again), which other SDKs use when the wire encoding differs.

Derived signing keys (four HMACs) are cached per day, region and service: a verification then costs
one SHA-256 of the canonical request and one HMAC (the invocation path stays cheap).
"""

from __future__ import annotations

import base64
import enum
import functools
import hashlib
import hmac
import re
import time
import urllib.parse
from calendar import timegm
from collections.abc import Callable, Iterable, Iterator
from email.utils import parsedate_to_datetime
from typing import NamedTuple
from urllib.parse import quote

from botocore.auth import HmacV1Auth
from botocore.awsrequest import HTTPHeaders
from botocore.credentials import Credentials
from botocore.utils import normalize_url_path

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# OpenSSL 3 looks the digest up on every hashlib.sha256()/hmac call (about as costly as hashing a few
# KiB); copies of a prepared context skip that lookup
_SHA256 = hashlib.sha256()


def sha256_hex(data: bytes) -> str:
    digest = _SHA256.copy()
    digest.update(data)
    return digest.hexdigest()


class _Hmac:
    """HMAC-SHA256 with one key, its inner and outer contexts prepared once (RFC 2104)."""

    __slots__ = ("inner", "outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self.inner, self.outer = _SHA256.copy(), _SHA256.copy()
        self.inner.update(bytes(b ^ 0x36 for b in key))
        self.outer.update(bytes(b ^ 0x5C for b in key))

    def hexdigest(self, message: bytes) -> str:
        inner = self.inner.copy()
        inner.update(message)
        outer = self.outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()
MAX_SKEW = 15 * 60                        # AWS: header signatures older or newer than 15 minutes expire
MAX_EXPIRES = 7 * 24 * 3600               # AWS: presigned URLs live at most 7 days
_AUTH = re.compile(r"^AWS4-HMAC-SHA256\s+(?P<params>.*)$", re.DOTALL)
_TIMESTAMP = re.compile(r"^\d{8}T\d{6}Z$")
_DATE = re.compile(r"\d{8}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_BOTOCORE_V2 = HmacV1Auth(Credentials("unused", "unused"))


class Failure(enum.Enum):
    MISSING = "missing"            # no signature at all
    MALFORMED = "malformed"        # a signature that does not parse, or lacks a part
    UNKNOWN_KEY = "unknown key"    # signed with an access key smlocal does not know
    MISMATCH = "mismatch"          # the signature does not verify (wrong secret, changed request)
    SKEWED = "skewed"              # header signature outside the 15-minute window
    EXPIRED = "expired"            # presigned URL past its X-Amz-Expires


class AuthError(Exception):
    def __init__(self, failure: Failure, detail: str = "") -> None:
        super().__init__(detail or failure.value)
        self.failure = failure
        self.detail = detail


class Signature(NamedTuple):
    access_key: str
    date: str                      # YYYYMMDD of the credential scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str                 # YYYYMMDDTHHMMSSZ
    presigned: bool
    expires: int = 0


def scope_service(authorization: str | None, query: str) -> str | None:
    """The signing name in a request's credential scope ("s3", "sagemaker", ...), if it has one."""
    text = authorization or ""
    if not text and "X-Amz-Credential" in query:
        text = dict(urllib.parse.parse_qsl(query)).get("X-Amz-Credential", "")
    match = re.search(r"Credential=?[^/,]*/\d{8}/[^/]+/([^/]+)/aws4_request", text) or \
        re.search(r"^[^/]*/\d{8}/[^/]+/([^/]+)/aws4_request$", text)
    return match.group(1) if match else None


def parse(headers: dict[str, str], query: str) -> Signature:
    """The signature a request carries (header or query string); AuthError when none or malformed."""
    authorization = headers.get("authorization")
    if authorization is not None:
        return _parse_header(authorization, headers)
    if "X-Amz-Signature" in query or "X-Amz-Algorithm" in query:
        return _parse_query(query)
    raise AuthError(Failure.MISSING)


def _parse_header(authorization: str, headers: dict[str, str]) -> Signature:
    match = _AUTH.match(authorization.strip())
    if match is None:
        raise AuthError(Failure.MALFORMED, "the Authorization header is not an AWS4-HMAC-SHA256 signature")
    parts = {}
    for item in match["params"].split(","):
        name, _, value = item.strip().partition("=")
        parts[name] = value
    missing = [p for p in ("Credential", "SignedHeaders", "Signature") if not parts.get(p)]
    if missing:
        raise AuthError(Failure.MALFORMED, f"the Authorization header lacks {', '.join(missing)}")
    timestamp = headers.get("x-amz-date") or _from_http_date(headers.get("date"))
    return _signature(parts["Credential"], parts["SignedHeaders"], parts["Signature"], timestamp, False, 0)


def _parse_query(query: str) -> Signature:
    params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        raise AuthError(Failure.MALFORMED, f"X-Amz-Algorithm must be {ALGORITHM}")
    missing = [p for p in ("X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Date")
               if not params.get(p)]
    if missing:
        raise AuthError(Failure.MALFORMED, f"the presigned URL lacks {', '.join(missing)}")
    expires = params.get("X-Amz-Expires", "")
    if not expires.isdigit() or not 0 < int(expires) <= MAX_EXPIRES:
        raise AuthError(Failure.MALFORMED, f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds")
    return _signature(params["X-Amz-Credential"], params["X-Amz-SignedHeaders"], params["X-Amz-Signature"],
                      params["X-Amz-Date"], True, int(expires))


@functools.lru_cache(maxsize=256)
def _scope(credential: str) -> tuple[str, ...] | None:
    """The credential's five parts, or None when it is not <key>/<YYYYMMDD>/<region>/<service>/aws4_request
    (a client sends the same few credentials on every request: parsed once)."""
    scope = tuple(credential.split("/"))
    if len(scope) != 5 or scope[4] != "aws4_request" or not _DATE.fullmatch(scope[1]):
        return None
    return scope


@functools.lru_cache(maxsize=256)
def _signed_names(signed: str) -> tuple[str, ...]:
    return tuple(signed.split(";"))


def _signature(credential: str, signed: str, signature: str, timestamp: str | None, presigned: bool,
               expires: int) -> Signature:
    scope = _scope(credential)
    if scope is None:
        raise AuthError(Failure.MALFORMED, "the credential must be <key>/<YYYYMMDD>/<region>/<service>/aws4_request")
    if not timestamp or not _TIMESTAMP.match(timestamp):
        raise AuthError(Failure.MALFORMED, "the request has no X-Amz-Date (or Date) in the ISO 8601 basic format")
    if timestamp[:8] != scope[1]:
        raise AuthError(Failure.MALFORMED, f"the credential's date {scope[1]} is not the request's ({timestamp[:8]})")
    names = _signed_names(signed)
    if "host" not in names:
        raise AuthError(Failure.MALFORMED, "'Host' must be a 'SignedHeader' in the AWS Authorization")
    if not _HEX64.fullmatch(signature):
        raise AuthError(Failure.MALFORMED, "the signature is not 64 hexadecimal digits")
    return Signature(scope[0], scope[1], scope[2], scope[3], names, signature, timestamp, presigned, expires)


def _from_http_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return time.strftime("%Y%m%dT%H%M%SZ", parsedate_to_datetime(value).utctimetuple())
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=256)
def _epoch(timestamp: str) -> int:
    """Seconds since the epoch of YYYYMMDDTHHMMSSZ (strptime costs more than the whole HMAC)."""
    t = timestamp
    return timegm((int(t[0:4]), int(t[4:6]), int(t[6:8]), int(t[9:11]), int(t[11:13]), int(t[13:15]), 0, 0, 0))


class Verifier:
    """Checks signatures against one key pair, with a cache of derived signing keys."""

    def __init__(self, access_key: str, secret_key: str, clock: Callable[[], float] = time.time) -> None:
        self.access_key = access_key
        self._secret = ("AWS4" + secret_key).encode()
        self._clock = clock
        self._keys: dict[tuple[str, str, str], bytes] = {}
        self._macs: dict[bytes, _Hmac] = {}

    def signing_key(self, date: str, region: str, service: str) -> bytes:
        cached = self._keys.get((date, region, service))
        if cached is None:
            key = self._secret
            for part in (date, region, service, "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            if len(self._keys) > 256:     # a handful of (day, region, service) in practice
                self._keys.clear()
                self._macs.clear()
            cached = self._keys[(date, region, service)] = key
        return cached

    def verify(self, method: str, raw_path: str, query: str, headers: Iterable[tuple[str, str]],
               body: bytes | None, *, s3: bool = False) -> Signature:
        """The request's signature once it verifies; AuthError otherwise.

        ``headers``: (lower-case name, value) as received, repeats included. ``body``: the payload,
        or None when it is not at hand (S3, streamed): then ``x-amz-content-sha256`` names its hash.
        ``s3``: the request goes to S3, which also takes signature version 2 (boto3's presigned
        URLs for us-east-1 still use it).
        """
        received = list(headers)
        first: dict[str, str] = {}
        for name, value in received:
            first.setdefault(name, value)
        if s3 and (first.get("authorization", "").startswith("AWS ") or
                   ("AWSAccessKeyId=" in query and "Signature=" in query and "authorization" not in first)):
            return self._verify_v2(method, raw_path, query, received, first)
        sig = parse(first, query)
        if sig.access_key != self.access_key:
            raise AuthError(Failure.UNKNOWN_KEY, sig.access_key)
        self._check_time(sig)
        payload = _payload_hash(sig, first, body)
        wanted = set(sig.signed_headers)
        values: dict[str, list[str]] = {}
        for name, value in received:
            if name in wanted:
                values.setdefault(name, []).append(value)
        absent = [name for name in sig.signed_headers if name not in values]
        if absent:
            raise AuthError(Failure.MISMATCH, f"signed headers missing from the request: {', '.join(absent)}")
        path = _canonical_path(raw_path, sig.service == "s3")
        # botocore's canonical_headers (its value trimming, ' '.join(value.split()), repeats joined by
        # commas), without building its email.message-based header map on the hot path
        headers_part = "\n".join(f"{name}:{','.join(' '.join(v.split()) for v in values[name])}"
                                  for name in sorted(wanted)) + "\n\n" + ";".join(sig.signed_headers)
        key = self.signing_key(sig.date, sig.region, sig.service)
        mac = self._macs.get(key)
        if mac is None:
            mac = self._macs[key] = _Hmac(key)
        scope = f"{sig.date}/{sig.region}/{sig.service}/aws4_request"
        for canonical_query in _query_candidates(query, sig.presigned):
            canonical = "\n".join((method.upper(), path, canonical_query, headers_part, payload))
            string_to_sign = "\n".join((ALGORITHM, sig.timestamp, scope,
                                        sha256_hex(canonical.encode("utf-8"))))
            expected = mac.hexdigest(string_to_sign.encode("utf-8"))
            if hmac.compare_digest(expected, sig.signature):
                return sig
        raise AuthError(Failure.MISMATCH)

    def _verify_v2(self, method: str, raw_path: str, query: str, received: list[tuple[str, str]],
                   first: dict[str, str]) -> Signature:
        """S3's signature version 2: HMAC-SHA1 over method, MD5, type, date/expiry, x-amz-* and resource."""
        now = self._clock()
        if "authorization" in first:
            access_key, _, signature = first["authorization"][4:].strip().rpartition(":")
            when = first.get("date", "") if "x-amz-date" not in first else ""
            stamp = _from_http_date(first.get("x-amz-date") or first.get("date"))
            if not access_key or not signature or stamp is None:
                raise AuthError(Failure.MALFORMED, "the Authorization header is not a signature version 2")
            presigned, expires = False, 0
        else:
            params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
            access_key, signature, when = params["AWSAccessKeyId"], params["Signature"], params.get("Expires", "")
            if not when.isdigit():
                raise AuthError(Failure.MALFORMED, "the presigned URL has no Expires")
            stamp, presigned, expires = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(int(when))), True, int(when)
        if access_key != self.access_key:
            raise AuthError(Failure.UNKNOWN_KEY, access_key)
        if presigned and now > expires:
            raise AuthError(Failure.EXPIRED, stamp)
        if not presigned and abs(now - _epoch(stamp)) > MAX_SKEW:
            raise AuthError(Failure.SKEWED, _skew_detail(stamp, now))
        amz = HTTPHeaders()
        for name, value in received:
            if name.startswith("x-amz-"):
                amz[name] = value
        standard = "\n".join((first.get("content-md5", "").strip(), first.get("content-type", "").strip(), when))
        custom = _BOTOCORE_V2.canonical_custom_headers(amz)
        resource = _BOTOCORE_V2.canonical_resource(urllib.parse.urlsplit("http://host" + raw_path + "?" + query))
        string_to_sign = f"{method.upper()}\n{standard}\n" + (custom + "\n" if custom else "") + resource
        secret = self._secret[4:]
        expected = base64.b64encode(hmac.new(secret, string_to_sign.encode("utf-8"), hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise AuthError(Failure.MISMATCH)
        return Signature(access_key, stamp[:8], "us-east-1", "s3", (), signature, stamp, presigned, 0)

    def _check_time(self, sig: Signature) -> None:
        now = self._clock()
        signed_at = _epoch(sig.timestamp)
        if sig.presigned:
            if now > signed_at + sig.expires:
                raise AuthError(Failure.EXPIRED, sig.timestamp)
            if signed_at - now > MAX_SKEW:
                raise AuthError(Failure.SKEWED, sig.timestamp)
        elif abs(now - signed_at) > MAX_SKEW:
            raise AuthError(Failure.SKEWED, _skew_detail(sig.timestamp, now))


def _skew_detail(timestamp: str, now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    if _epoch(timestamp) < now:
        limit = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now - MAX_SKEW))
        return f"Signature expired: {timestamp} is now earlier than {limit} ({stamp} - 15 min.)"
    limit = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now + MAX_SKEW))
    return f"Signature not yet current: {timestamp} is still later than {limit} ({stamp} + 15 min.)"


def _payload_hash(sig: Signature, headers: dict[str, str], body: bytes | None) -> str:
    declared = headers.get("x-amz-content-sha256")
    if sig.service == "s3":
        if sig.presigned:
            return declared or UNSIGNED_PAYLOAD
        if declared is None:
            raise AuthError(Failure.MALFORMED, "S3 requests must carry x-amz-content-sha256")
        return declared
    actual = EMPTY_SHA256 if not body else sha256_hex(body)
    if declared is not None:      # botocore signs the header's value; it must be the body's hash
        if declared != UNSIGNED_PAYLOAD and declared != actual:
            raise AuthError(Failure.MISMATCH, "x-amz-content-sha256 is not the SHA-256 of the body")
        return declared
    return actual


def _query_candidates(query: str, presigned: bool) -> Iterator[str]:
    """The canonical query string as botocore builds it from the wire, then (only if that one did not
    verify) per the specification."""
    if not query:
        yield ""
        return
    pairs = [pair.partition("=") for pair in query.split("&")] if query else []
    raw = [(k, v) for k, _, v in pairs if not (presigned and k == "X-Amz-Signature")]
    botocore_form = "&".join(f"{k}={v}" for k, v in sorted(raw))
    yield botocore_form
    decoded = [(k, v) for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True)
               if not (presigned and k == "X-Amz-Signature")]
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in decoded)
    spec_form = "&".join(f"{k}={v}" for k, v in encoded)
    if spec_form != botocore_form:
        yield spec_form


@functools.lru_cache(maxsize=4096)
def _canonical_path(raw_path: str, s3: bool) -> str:
    """S3 signs the path as sent; every other service its normalised form encoded again (botocore's rule)."""
    return raw_path if s3 else quote(normalize_url_path(raw_path), safe="/~")
