"""Create / describe / delete plumbing shared by every resource family, and ARNs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.config import Settings
from emulator.domain.families import Family
from emulator.domain.listing import list_query, next_token
from emulator.handler_spec import Stored
from emulator.state.db import loads
from emulator.state.resources import AlreadyExists, ResourceStore

_PARSED_KEPT = 256   # per family: the records being described over and over (polling clients)


@dataclass
class Context:
    """What domain operations need: settings and durable state (no HTTP, no Docker)."""

    settings: Settings
    store: ResourceStore

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.settings.region}:{self.settings.account_id}:{kind}/{name}"


class Records:
    """The records of one family, with SageMaker's errors for missing and duplicate names."""

    def __init__(self, ctx: Context, family: Family) -> None:
        self.ctx = ctx
        self.family = family
        self._parsed: dict[str, Stored] = {}   # stored text -> its record (get_stored)
        self._parsed_lock = threading.Lock()

    def arn(self, name: str) -> str:
        return self.ctx.arn(self.family.kind, name.lower() if self.family.lowercase_arn else name)

    def create(self, name: str, record: dict[str, Any], tags: list[dict[str, str]] | None = None
               ) -> dict[str, Any]:
        arn = self.arn(name)
        now = time.time()
        record = {self.family.name_field: name, self.family.arn_field: arn,
                  "CreationTime": now, "LastModifiedTime": now, **record}
        status = record.get(self.family.status_field) if self.family.status_field else None
        try:
            return self.ctx.store.insert(self.family.kind, name, arn, record, status=status, tags=tags)
        except AlreadyExists as exc:
            raise self.family.already_exists(name, exc.record[self.family.arn_field]) from None

    def name_of(self, name_or_arn: str) -> str:
        """The record's name (its key) from a name or an ARN of this family (operations whose input
        pattern admits an ARN, such as DescribeModelPackageGroup, take either)."""
        if name_or_arn.startswith("arn:"):
            marker = f":{self.family.kind}/"
            if marker in name_or_arn:
                return name_or_arn.split(marker, 1)[1]
        return name_or_arn

    def find(self, name: str) -> dict[str, Any] | None:
        return self.ctx.store.get(self.family.kind, self.name_of(name))

    def get(self, name: str) -> dict[str, Any]:
        name = self.name_of(name)
        record = self.find(name)
        if record is None:
            raise self.family.not_found(name, self.arn(name))
        return record

    def get_stored(self, name: str) -> Stored:
        """As ``get``, as a shared read-only ``Stored`` (parsed once per distinct stored text)."""
        name = self.name_of(name)
        text = self.ctx.store.get_text(self.family.kind, name)
        if text is None:
            raise self.family.not_found(name, self.arn(name))
        return self._parse(text)

    def _parse(self, text: str) -> Stored:
        record = self._parsed.get(text)
        if record is None:
            record = Stored(text, loads(text))
            with self._parsed_lock:   # the loop and the SDK hold's worker threads share it
                if len(self._parsed) >= _PARSED_KEPT:
                    self._parsed.pop(next(iter(self._parsed)))
                self._parsed[text] = record
        return record

    def update(self, name: str, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        name = self.name_of(name)
        record = self.update_if_exists(name, change)
        if record is None:
            raise self.family.not_found(name, self.arn(name))
        return record

    def update_if_exists(self, name: str, change: Callable[[dict[str, Any]], Any]) -> dict[str, Any] | None:
        """As ``update``, for background work on a record the user may have deleted meanwhile: None then."""
        return self.ctx.store.update(self.family.kind, self.name_of(name), change,
                                     status_field=self.family.status_field)

    def delete(self, name: str) -> dict[str, Any]:
        name = self.name_of(name)
        record = self.ctx.store.delete(self.family.kind, name)
        if record is None:
            raise self.family.not_found(name, self.arn(name))
        return record

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        query = list_query(params, status_field=self.family.status_field)
        texts = self.ctx.store.page(self.family.kind, name_contains=query.name_contains, status=query.status,
                                   after=query.after, before=query.before, sort=query.sort,
                                   descending=query.descending, offset=query.offset, limit=query.size + 1)
        token = next_token(query, len(texts) > query.size, params)
        page: list[dict[str, Any]] = [self._parse(text) for text in texts[:query.size]]
        if self.family.summary is not None:
            page = [self.family.summary(record) for record in page]
        out: dict[str, Any] = {self.family.list_key: page}
        if token:
            out["NextToken"] = token
        return out
