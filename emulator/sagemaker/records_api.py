"""Describe<Noun> and List<Noun>s of every resource family, served from the shared record plumbing
(``emulator.domain.records``). No provider defines these: registering one twice is refused at start-up.
They run on the event loop (reads of local state); the SDK's first Describe of a new job is the one
exception, held in a worker thread (``sdk_wait``).
"""

from __future__ import annotations

from typing import Any

from emulator.domain import families
from emulator.domain.records import Context, Records
from emulator.handler_spec import HandlerSpec, OperationTable, on_loop
from emulator.sagemaker.sdk_wait import FirstDescribeWait


def operations(ctx: Context, hold: FirstDescribeWait, held: tuple[families.Family, ...]) -> OperationTable:
    """The table for every family; Describe of the ``held`` families (the job kinds) goes through ``hold``."""
    table: OperationTable = {}
    for family in families.ALL:
        records = Records(ctx, family)

        def describe(params: dict[str, Any], r: Records = records) -> dict[str, Any]:
            return r.get_stored(params[r.family.name_field])

        def list_(params: dict[str, Any], r: Records = records) -> dict[str, Any]:
            return r.list(params)

        spec: HandlerSpec = hold.wrap(family, describe) if family in held else on_loop(describe)
        table[f"Describe{family.noun}"] = spec
        if not family.own_list:
            table[f"List{family.noun}s"] = on_loop(list_)
    return table
