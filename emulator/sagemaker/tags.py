"""AddTags, ListTags, DeleteTags for any ARN the emulator owns."""

from __future__ import annotations

from typing import Any

from emulator.domain.listing import paginate
from emulator.domain.records import Context
from emulator.errors import ResourceLimitExceeded, ValidationException
from emulator.handler_spec import OperationTable, in_thread
from emulator.state.resources import TagLimitExceeded

MAX_TAGS = 50
DEFAULT_PAGE = 50


class TagOps:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx


    def operations(self) -> OperationTable:
        return {"AddTags": in_thread(self.add_tags), "ListTags": in_thread(self.list_tags),
                "DeleteTags": in_thread(self.delete_tags)}
    def _owned(self, arn: str) -> str:
        if self.ctx.store.kind_of_arn(arn) is None:
            raise ValidationException("Resource does not exist")  # SageMaker's exact words
        return arn

    def add_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._owned(params["ResourceArn"])
        tags = params["Tags"]
        for tag in tags:
            if tag["Key"].lower().startswith("aws:"):
                raise ValidationException(
                    f"Tag keys starting with 'aws:' are reserved for system use: {tag['Key']}")
        try:
            self.ctx.store.add_tags(arn, tags, limit=MAX_TAGS)
        except TagLimitExceeded as exc:
            raise ResourceLimitExceeded(
                f"Exceeded the maximum of {MAX_TAGS} tags for resource {arn} "
                f"(the request would leave {exc.count}).") from None
        return {"Tags": tags}

    def list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._owned(params["ResourceArn"])
        page, token = paginate(self.ctx.store.tags(arn), params, DEFAULT_PAGE)
        out: dict[str, Any] = {"Tags": page}
        if token:
            out["NextToken"] = token
        return out

    def delete_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = self._owned(params["ResourceArn"])
        self.ctx.store.delete_tags(arn, params["TagKeys"])
        return {}
