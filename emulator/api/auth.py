"""Who may call: the SigV4 check of every AWS request, with AWS's own error per protocol.

The gateway (``api/gateway.py``) and the invocation fast path (``api/fastpath.py``) call
``Authenticator.check`` once the body is read (S3: before forwarding, from the headers alone).
A refusal is a ``ServiceError`` whose code and status are what the real service answers for the
same failure; the message is AWS's, followed by where smlocal's keys come from.
"""

from __future__ import annotations

from collections.abc import Iterable

from emulator.api.sigv4 import AuthError, Failure, Verifier
from emulator.errors import ServiceError

HINT = ' smlocal accepts the keys "smlocal env" prints: run eval "$(smlocal env)" in this shell.'
_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your AWS "
             "Secret Access Key and signing method. Consult the service documentation for details.")
_S3_MISMATCH = ("The request signature we calculated does not match the signature you provided. Check your key "
                "and signing method.")
_BAD_TOKEN = "The security token included in the request is invalid."
_MISSING = "Request is missing Authentication Token"

JSON, QUERY, S3 = "json", "query", "s3"

# (code, HTTP status, message; None = the verifier's detail) per protocol and failure
_ERRORS: dict[str, dict[Failure, tuple[str, int, str | None]]] = {
    JSON: {
        Failure.MISSING: ("MissingAuthenticationTokenException", 400, _MISSING),
        Failure.MALFORMED: ("IncompleteSignatureException", 400, None),
        Failure.UNKNOWN_KEY: ("UnrecognizedClientException", 400, _BAD_TOKEN),
        Failure.MISMATCH: ("InvalidSignatureException", 400, _MISMATCH),
        Failure.SKEWED: ("InvalidSignatureException", 400, None),
        Failure.EXPIRED: ("InvalidSignatureException", 400, "Signature expired."),
    },
    QUERY: {
        Failure.MISSING: ("MissingAuthenticationToken", 403, _MISSING),
        Failure.MALFORMED: ("IncompleteSignature", 400, None),
        Failure.UNKNOWN_KEY: ("InvalidClientTokenId", 403, _BAD_TOKEN),
        Failure.MISMATCH: ("SignatureDoesNotMatch", 403, _MISMATCH),
        Failure.SKEWED: ("SignatureDoesNotMatch", 403, None),
        Failure.EXPIRED: ("SignatureDoesNotMatch", 403, "Signature expired."),
    },
    S3: {
        Failure.MISSING: ("AccessDenied", 403, "Access Denied"),
        Failure.MALFORMED: ("AuthorizationHeaderMalformed", 400, None),
        Failure.UNKNOWN_KEY: ("InvalidAccessKeyId", 403,
                              "The AWS Access Key Id you provided does not exist in our records."),
        Failure.MISMATCH: ("SignatureDoesNotMatch", 403, _S3_MISMATCH),
        Failure.SKEWED: ("RequestTimeTooSkewed", 403,
                         "The difference between the request time and the current time is too large."),
        Failure.EXPIRED: ("AccessDenied", 403, "Request has expired"),
    },
}


def refusal(protocol: str, failure: Failure, detail: str = "") -> ServiceError:
    code, status, message = _ERRORS[protocol][failure]
    text = message if message is not None else (detail[:1].upper() + detail[1:] if detail else failure.value)
    if not text.endswith("."):
        text += "."
    return ServiceError(text + HINT, code=code, status=status)


class Authenticator:
    """SigV4 (and S3's version 2) against the one key pair smlocal hands out; None keys refuse all."""

    def __init__(self, credentials: tuple[str, str] | None) -> None:
        self.verifier = Verifier(*credentials) if credentials else None

    def check(self, protocol: str, method: str, raw_path: str, query: str,
              headers: Iterable[tuple[str, str]], body: bytes | None) -> None:
        """Return when the request is signed with smlocal's keys; raise AWS's error otherwise."""
        if self.verifier is None:
            raise ServiceError("This smlocal gateway has no keys to check signatures against (it runs without "
                               "S3 keys); start it with `smlocal up`, or set SMLOCAL_AUTH=off." + HINT,
                               code=_ERRORS[protocol][Failure.UNKNOWN_KEY][0], status=403)
        try:
            self.verifier.verify(method, raw_path, query, headers, body, s3=protocol == S3)
        except AuthError as exc:
            raise refusal(protocol, exc.failure, exc.detail) from None
