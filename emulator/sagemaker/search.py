"""Search on the wire: filters, sorting and pages over the records smlocal holds (``domain/search.py``)."""

from __future__ import annotations

from typing import Any

from emulator.domain import search
from emulator.domain.records import Context
from emulator.handler_spec import OperationTable, in_thread


class SearchOps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def operations(self) -> OperationTable:
        # in a thread: a search reads every record of a kind and its tags
        return {"Search": in_thread(self.search)}

    def search(self, params: dict[str, Any]) -> dict[str, Any]:
        return search.search(self.ctx, params)
