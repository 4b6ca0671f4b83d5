"""Dispatch: the handler table the real ``build()`` produces, where each kind of handler runs, and the
build-time refusal of an operation registered twice."""

from __future__ import annotations

import asyncio
import threading

import pytest

from emulator.api.dispatch import RegistrationError, Service
from emulator.config import Settings
from emulator.domain import families
from emulator.errors import ValidationException
from emulator.handler_spec import Where, awaited, blocking, in_thread, on_loop
from emulator.server import build

ROLE = "arn:aws:iam::123456789012:role/R"


@pytest.fixture
def emulator(tmp_path):
    built = build(Settings(data_dir=tmp_path, sdk_describe_wait=0))
    yield built
    built.close()


def test_the_real_table_serves_reads_on_the_loop_and_everything_else_off_it(emulator) -> None:
    sagemaker = emulator.services["sagemaker"].handlers
    held = {f"Describe{f.noun}" for f in (families.TRAINING_JOB, families.PROCESSING_JOB, families.TRANSFORM_JOB,
                                          families.TUNING_JOB)}
    for family in families.ALL:
        assert sagemaker[f"List{family.noun}s"].where is Where.LOOP
        describe = sagemaker[f"Describe{family.noun}"]
        assert describe.where is (Where.THREAD if describe_op(family) in held else Where.LOOP), family.noun
    loop_ops = {op for op, spec in sagemaker.items() if spec.where is Where.LOOP}
    assert loop_ops == {op for op in loop_ops if op.startswith(("Describe", "List"))} - held
    for op in ("CreateTrainingJob", "StopTrainingJob", "CreateEndpoint", "DeleteModel", "AddTags"):
        assert sagemaker[op].where is Where.THREAD, op
    runtime = emulator.services["sagemaker-runtime"].handlers
    assert runtime["InvokeEndpoint"].where is Where.AWAITED
    for service in ("logs", "sts", "iam"):
        assert emulator.services[service].handlers and all(
            spec.where is Where.THREAD for spec in emulator.services[service].handlers.values())
    # CloudWatch metric reads are indexed reads: the SDK's analytics send one per metric definition
    assert {op: spec.where for op, spec in emulator.services["cloudwatch"].handlers.items()} == {
        "GetMetricStatistics": Where.LOOP, "GetMetricData": Where.LOOP, "ListMetrics": Where.LOOP}


def describe_op(family: families.Family) -> str:
    return f"Describe{family.noun}"


def test_the_held_job_describe_refuses_to_run_on_the_event_loop(emulator) -> None:
    handler = emulator.services["sagemaker"].handlers["DescribeTrainingJob"].handler

    async def on_the_loop():
        return handler({"TrainingJobName": "anything"})

    with pytest.raises(RuntimeError, match="must not run on the event loop"):
        asyncio.run(on_the_loop())
    with pytest.raises(ValidationException, match="Requested resource not found"):
        handler({"TrainingJobName": "anything"})   # off the loop it is an ordinary Describe


def test_an_operation_registered_twice_is_refused_at_build_time() -> None:
    def describe(params: dict) -> dict:
        return {}

    with pytest.raises(RegistrationError, match="DescribeModel is registered twice"):
        Service.build("sagemaker", [{"DescribeModel": on_loop(describe)}, {"DescribeModel": in_thread(describe)}])
    with pytest.raises(RegistrationError, match="NoSuchThing is not an operation of the SageMaker API"):
        Service.build("sagemaker", [{"NoSuchThing": in_thread(describe)}])


def test_specs_refuse_a_coroutine_marked_synchronous_and_the_reverse() -> None:
    async def coroutine(params: dict) -> dict:
        return {}

    def plain(params: dict) -> dict:
        return {}

    with pytest.raises(TypeError):
        on_loop(coroutine)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        awaited(plain)  # type: ignore[arg-type]


def test_each_kind_of_handler_runs_where_its_spec_says_and_all_are_validated() -> None:
    ran: dict[str, str] = {}

    def record(name: str):
        def handler(params: dict) -> dict:
            ran[name] = threading.current_thread().name
            return {}
        return handler

    async def invoke(params: dict) -> dict:
        ran["awaited"] = threading.current_thread().name
        return {"Body": b"ok"}

    service = Service.build("sagemaker", [{"DescribeModel": on_loop(record("loop")),
                                           "CreateModel": in_thread(record("thread")),
                                           "DeleteModel": blocking(record("blocking"))}])
    runtime = Service.build("sagemaker-runtime", [{"InvokeEndpoint": awaited(invoke)}],
                            validation_code="ValidationError")

    async def calls() -> str:
        await service.acall("DescribeModel", {"ModelName": "m"})
        await service.acall("CreateModel", {"ModelName": "m", "ExecutionRoleArn": ROLE})
        await service.acall("DeleteModel", {"ModelName": "m"})
        await runtime.acall("InvokeEndpoint", {"EndpointName": "e", "Body": b"x"})
        with pytest.raises(ValidationException):
            await service.acall("DescribeModel", {"ModelName": "bad name!"})
        return threading.current_thread().name

    loop_thread = asyncio.run(calls())
    assert ran["loop"] == loop_thread and ran["awaited"] == loop_thread
    assert ran["thread"] != loop_thread and ran["blocking"] != loop_thread
    assert len(ran) == 4   # the invalid DescribeModel never reached its handler
