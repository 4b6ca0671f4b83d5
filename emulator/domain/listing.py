"""List* semantics shared by every family: filters, sorting and NextToken pagination.

Only the parameters an operation's input shape defines ever reach here (validation drops the
rest), so one implementation serves ListModels (no status) and ListTrainingJobs alike.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.errors import ValidationException

DEFAULT_MAX_RESULTS = 10

_TIME_FILTERS = {
    "CreationTimeAfter": ("CreationTime", lambda v, bound: v > bound),
    "CreationTimeBefore": ("CreationTime", lambda v, bound: v < bound),
    "LastModifiedTimeAfter": ("LastModifiedTime", lambda v, bound: v > bound),
    "LastModifiedTimeBefore": ("LastModifiedTime", lambda v, bound: v < bound),
}


def _fingerprint(params: dict[str, Any]) -> str:
    """Ties a token to the query that produced it (filters and sort, not the page size)."""
    stable = {k: v for k, v in params.items() if k not in ("NextToken", "MaxResults")}
    return hashlib.sha256(json.dumps(stable, sort_keys=True, default=str).encode()).hexdigest()[:16]


def encode_token(offset: int, params: dict[str, Any]) -> str:
    raw = json.dumps({"o": offset, "q": _fingerprint(params)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str | None, params: dict[str, Any]) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
        same_query = data["q"] == _fingerprint(params)
    except (ValueError, KeyError, TypeError):
        raise ValidationException("Invalid pagination token because of the value of NextToken.") from None
    if offset < 0 or not same_query:
        raise ValidationException(
            "Invalid pagination token: the NextToken belongs to a request with other filters or sort "
            "order; send the same parameters as the call that returned it.")
    return offset


def paginate(items: list[Any], params: dict[str, Any], default_max: int = DEFAULT_MAX_RESULTS
             ) -> tuple[list[Any], str | None]:
    offset = decode_token(params.get("NextToken"), params)
    size = params.get("MaxResults") or default_max
    page = items[offset:offset + size]
    more = offset + size < len(items)
    return page, (encode_token(offset + size, params) if more else None)


@dataclass(frozen=True)
class ListQuery:
    """``list_page``'s filters, sort and page as plain values, for a store that selects the page itself
    (``ResourceStore.page``) instead of reading every record: same filters, same order, same tokens."""

    name_contains: str | None          # lower case
    status: str | None
    after: dict[str, float]            # "CreationTime"/"LastModifiedTime" -> exclusive lower bound
    before: dict[str, float]           # ... exclusive upper bound
    sort: str                          # "CreationTime", "Name" or "Status"
    descending: bool
    offset: int
    size: int


def list_query(params: dict[str, Any], *, status_field: str | None,
               default_max: int = DEFAULT_MAX_RESULTS) -> ListQuery:
    """What ``list_page`` would do with ``params`` (raises the same error for a bad NextToken)."""
    after: dict[str, float] = {}
    before: dict[str, float] = {}
    for param, (field, _) in _TIME_FILTERS.items():
        if param in params:
            bounds = after if param.endswith("After") else before
            if field in bounds:                      # pragma: no cover - one parameter per field
                raise AssertionError(param)
            bounds[field] = params[param]
    sort = params.get("SortBy", "CreationTime")
    if sort not in ("Name", "Status") or (sort == "Status" and not status_field):
        sort = "CreationTime"
    return ListQuery(
        name_contains=params["NameContains"].lower() if params.get("NameContains") else None,
        status=params["StatusEquals"] if params.get("StatusEquals") and status_field else None,
        after=after, before=before, sort=sort,
        descending=params.get("SortOrder", "Descending") == "Descending",
        offset=decode_token(params.get("NextToken"), params),
        size=params.get("MaxResults") or default_max)


def next_token(query: ListQuery, more: bool, params: dict[str, Any]) -> str | None:
    return encode_token(query.offset + query.size, params) if more else None


def list_page(records: list[dict[str, Any]], params: dict[str, Any], *, name_field: str,
              status_field: str | None, default_max: int = DEFAULT_MAX_RESULTS
              ) -> tuple[list[dict[str, Any]], str | None]:
    """Filter, sort and page ``records`` as SageMaker's List* operations do."""
    selected = records
    if params.get("NameContains"):
        needle = params["NameContains"].lower()
        selected = [r for r in selected if needle in r[name_field].lower()]
    if params.get("StatusEquals") and status_field:
        selected = [r for r in selected if r.get(status_field) == params["StatusEquals"]]
    for param, (field, keep) in _TIME_FILTERS.items():
        if param in params:
            selected = [r for r in selected if keep(r.get(field, 0), params[param])]

    sort_by = params.get("SortBy", "CreationTime")
    descending = params.get("SortOrder", "Descending") == "Descending"
    key: Callable[[dict[str, Any]], Any]
    if sort_by == "Name":
        def key(r: dict[str, Any]) -> Any:
            return r[name_field].lower()
    elif sort_by == "Status" and status_field:
        def key(r: dict[str, Any]) -> Any:
            return (r.get(status_field) or "", r.get("CreationTime", 0))
    else:
        def key(r: dict[str, Any]) -> Any:
            return (r.get("CreationTime", 0), r[name_field].lower())
    selected = sorted(selected, key=key, reverse=descending)
    return paginate(selected, params, default_max)
