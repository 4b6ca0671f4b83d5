"""Serializing results and errors once, per protocol: JSON 1.1, rest-json and query/XML."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from starlette.responses import Response

from emulator.errors import InternalFailure, ServiceError

log = logging.getLogger(__name__)

JSON_11 = "application/x-amz-json-1.1"
JSON_10 = "application/x-amz-json-1.0"


def new_request_id() -> str:
    return str(uuid.uuid4())


def as_service_error(exc: BaseException) -> ServiceError:
    """Any exception becomes an AWS error; anything unexpected is logged as the bug it is."""
    if isinstance(exc, ServiceError):
        return exc
    log.exception("unhandled error (a bug in smlocal): %s", exc)
    return InternalFailure(f"smlocal hit an internal error ({type(exc).__name__}); see the gateway log.")


def json_text(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def json_result(body: dict[str, Any] | str, request_id: str, content_type: str = JSON_11) -> Response:
    """A 200 answer: ``body`` shaped, or already its JSON text."""
    return Response(body if isinstance(body, str) else json_text(body), status_code=200,
                    media_type=content_type, headers={"x-amzn-RequestId": request_id})


def json_error(exc: BaseException, request_id: str, content_type: str = JSON_11) -> Response:
    """JSON 1.1 and rest-json errors: botocore reads ``__type`` (JSON) or the header (rest-json)."""
    err = as_service_error(exc)
    body: dict[str, Any] = {"__type": err.code, "message": err.message}
    if content_type not in (JSON_11, JSON_10):
        body["Message"] = err.message  # rest-json shapes (ModelError, ...) declare "Message"
    body.update(err.fields)
    return Response(json.dumps(body, separators=(",", ":")), status_code=err.status,
                    media_type=content_type,
                    headers={"x-amzn-RequestId": request_id, "x-amzn-ErrorType": err.code})


def xml_error(exc: BaseException, request_id: str, namespace: str) -> Response:
    from xml.sax.saxutils import escape

    err = as_service_error(exc)
    kind = "Sender" if err.sender_fault else "Receiver"
    body = (f'<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>")
    return Response(body, status_code=err.status, media_type="text/xml",
                    headers={"x-amzn-RequestId": request_id})
