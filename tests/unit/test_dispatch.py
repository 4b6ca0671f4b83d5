"""Service.acall: where handlers run (event loop, worker thread) and that the result is the same."""

from __future__ import annotations

import asyncio
import threading

import pytest

from emulator.api.dispatch import Service, inline
from emulator.errors import ValidationException
from emulator.server import family_defaults


class _Provider:
    def __init__(self) -> None:
        self.threads: list[str] = []

    def create_model(self, params: dict) -> dict:
        self.threads.append(threading.current_thread().name)
        return {"ModelArn": f"arn:aws:sagemaker:us-east-1:123456789012:model/{params['ModelName'].lower()}"}


def _run(coro):
    return asyncio.run(coro)


def test_inline_handlers_run_on_the_event_loop_thread_and_others_in_a_worker() -> None:
    provider = _Provider()
    seen: list[str] = []

    @inline
    def describe_model(params: dict) -> dict:
        seen.append(threading.current_thread().name)
        return {"ModelName": params["ModelName"], "ModelArn": "arn:aws:sagemaker:us-east-1:123456789012:model/m",
                "CreationTime": 0, "ExecutionRoleArn": "arn:aws:iam::123456789012:role/R"}

    service = Service.from_providers("sagemaker", [provider], defaults={"DescribeModel": describe_model})

    async def both():
        loop_thread = threading.current_thread().name
        _, described = await service.acall("DescribeModel", {"ModelName": "m"})
        _, created = await service.acall("CreateModel", {"ModelName": "m", "ExecutionRoleArn":
                                                         "arn:aws:iam::123456789012:role/R"})
        return loop_thread, described, created

    loop_thread, described, created = _run(both())
    assert seen == [loop_thread] and described["ModelName"] == "m"
    assert provider.threads and provider.threads[0] != loop_thread and created["ModelArn"].endswith("model/m")


def test_inline_handlers_are_validated_like_the_others() -> None:
    calls: list[dict] = []

    @inline
    def describe_model(params: dict) -> dict:
        calls.append(params)
        return {}

    service = Service.from_providers("sagemaker", [], defaults={"DescribeModel": describe_model})
    with pytest.raises(ValidationException):
        _run(service.acall("DescribeModel", {"ModelName": "bad name!"}))
    assert calls == []


def test_only_the_record_backed_describe_and_list_defaults_are_inline(tmp_path) -> None:
    from emulator.config import Settings
    from emulator.sagemaker.records import Context
    from emulator.state.db import Database
    from emulator.state.resources import ResourceStore

    ctx = Context(settings=Settings(data_dir=tmp_path), store=ResourceStore(Database(tmp_path / "db.sqlite")))
    handlers = family_defaults(ctx)
    assert handlers and all(getattr(h, "inline", False) for h in handlers.values())
    assert set(handlers) == {op for op in handlers if op.startswith(("Describe", "List"))}
    assert not getattr(_Provider().create_model, "inline", False)
