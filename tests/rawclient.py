"""Requests no botocore client would send, and botocore's own parser to read the answers."""

from __future__ import annotations

import httpx
from botocore.parsers import create_parser

JSON_11 = "application/x-amz-json-1.1"
_client = httpx.Client(timeout=30)  # keep-alive: fuzzing sends hundreds of requests


def post(url: str, target: str | None, body: bytes, content_type: str = JSON_11,
         headers: dict[str, str] | None = None) -> httpx.Response:
    all_headers = {"Content-Type": content_type, **(headers or {})}
    if target:
        all_headers["X-Amz-Target"] = target
    return _client.post(url + "/", content=body, headers=all_headers)


def parse_json_error(response: httpx.Response) -> dict:
    """What boto3 would make of this response (JSON 1.1 protocol)."""
    parsed = create_parser("json").parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.content},
        None)
    return parsed


def post_form(url: str, form: dict[str, str]) -> httpx.Response:
    """A query-protocol request (form-encoded), as older botocore and the AWS CLI v1 send to CloudWatch."""
    return _client.post(url + "/", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"})


def parse_query_error(response: httpx.Response) -> dict:
    """What boto3 would make of a query-protocol (XML) error response."""
    return create_parser("query").parse(
        {"status_code": response.status_code, "headers": dict(response.headers), "body": response.content}, None)
