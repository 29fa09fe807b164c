"""Requests of one scan against a real pymodbus server on 127.0.0.1: a silent request among
answering ones, a merged read refused because of its gap, and a unit id nobody answers to."""

from __future__ import annotations

import asyncio
import logging

import pytest

from gateway.collectors.devicestate import State
from gateway.collectors.modbus.collector import ModbusConnection
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import Space
from gateway.model import Quality, Sample
from simulators.modbus_server import RegisterBank, start_modbus_server

pytestmark = pytest.mark.integration


class SilentFunctions(RegisterBank):
    """A bank whose unit never answers reads of the function codes in `silent`."""

    def __init__(self) -> None:
        super().__init__()
        self.silent: set[int] = set()

    async def async_getValues(self, device_id, func_code, address, count=1):
        if func_code in self.silent:
            await asyncio.Event().wait()  # cancelled when the server stops
        return await super().async_getValues(device_id, func_code, address, count)


def connect(endpoint: str, tags: list[dict], **extra) -> ModbusConnection:
    device = ModbusDevice.model_validate(
        {
            "name": "feeder",
            "endpoint": endpoint,
            "timeout": 0.2,
            "retries": 0,
            "demote_after": 2,
            "tags": tags,
            **extra,
        }
    )
    (plan,) = compile_connections((device,))
    return ModbusConnection(plan, lambda _: None)


def by_tag(samples: list[Sample]) -> dict[str, Sample]:
    return {s.point.tag: s for s in samples}


HOLDING_AND_INPUT = [
    {"name": "setpoint", "space": "holding_register", "address": 0},  # fc3: read first
    {"name": "level", "space": "input_register", "address": 0},  # fc4
]


@pytest.fixture
async def feeder():
    bank = SilentFunctions()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [11])
    bank.unit(1).set(Space.INPUT_REGISTER, 0, [22])
    server = await start_modbus_server(bank)
    yield server, bank
    await server.stop()


async def test_a_device_that_answers_some_requests_is_up(feeder):
    server, bank = feeder
    bank.silent = {3}  # holding registers never answer; input registers do
    conn = connect(server.endpoint, HOLDING_AND_INPUT)
    try:
        for _ in range(4):  # twice demote_after
            samples = by_tag(await conn.scan(conn.plan.scans[0]))
            assert (samples["level"].value, samples["level"].quality) == (22, Quality.GOOD)
            assert samples["setpoint"].quality is Quality.BAD
            assert samples["setpoint"].reason == "no response within 0.2s"
        stats = conn.devices["feeder"]
        assert stats.state is State.UP
        assert stats.skipped_scans == 0
        assert conn.stats.connect_failures == 0  # one silent request never reopens the link
    finally:
        conn.close()


async def test_after_a_silent_request_the_scan_budget_bounds_the_rest(feeder):
    """Rate 0.1 s, timeout 0.2 s: after the silent read the scan's time is spent, so the
    input read waits; from the next scan on the silent read goes last and the input read
    answers first."""
    server, bank = feeder
    bank.silent = {3}
    conn = connect(server.endpoint, HOLDING_AND_INPUT, scan_rate=0.1)
    try:
        first = by_tag(await conn.scan(conn.plan.scans[0]))
        assert first["setpoint"].reason == "no response within 0.2s"
        assert first["level"].reason == (
            "not read: the scan's 0.1s went to a request that got no answer"
        )
        for _ in range(3):
            samples = by_tag(await conn.scan(conn.plan.scans[0]))
            assert samples["level"].value == 22
            assert samples["setpoint"].reason == "no response within 0.2s"
        assert conn.devices["feeder"].state is State.UP
    finally:
        conn.close()


async def test_a_demoted_device_says_why(feeder):
    server, bank = feeder
    bank.silent = {3, 4}
    conn = connect(server.endpoint, HOLDING_AND_INPUT, demote_after=1)
    try:
        await conn.scan(conn.plan.scans[0])
        skipped = await conn.scan(conn.plan.scans[0])
    finally:
        conn.close()
    assert {s.reason for s in skipped} == {"device demoted: no response within 0.2s"}


GAPPED = [
    {"name": "a", "space": "input_register", "address": 0, "type": "uint32"},
    {"name": "b", "space": "input_register", "address": 4, "type": "uint32"},
    {"name": "c", "space": "input_register", "address": 10, "type": "uint32"},
]


async def test_a_merged_read_refused_for_its_gap_is_split_once_and_remembered(caplog):
    bank = RegisterBank()
    unit = bank.unit(1)
    unit.set(Space.INPUT_REGISTER, 0, [0, 1])  # a = 1
    unit.set(Space.INPUT_REGISTER, 4, [0, 2])  # b = 2; 2-3 and 6-9 are not defined
    unit.set(Space.INPUT_REGISTER, 10, [0])  # c's second register (11) is not defined either
    server = await start_modbus_server(bank)
    caplog.set_level(logging.INFO, logger="gateway.collectors.modbus")
    conn = connect(server.endpoint, GAPPED, max_gap=4)
    ((merged,),) = [scan.requests for scan in conn.plan.scans]
    assert (merged.start, merged.count) == (0, 12)
    try:
        first = by_tag(await conn.scan(conn.plan.scans[0]))
        reads = conn.devices["feeder"].reads
        second = by_tag(await conn.scan(conn.plan.scans[0]))
        reads_of_second = conn.devices["feeder"].reads - reads
    finally:
        conn.close()
        await server.stop()
    for samples in (first, second):
        assert (samples["a"].value, samples["b"].value) == (1, 2)
        # a hole in the tag's own registers stays BAD, with the exception's reason
        assert samples["c"].quality is Quality.BAD
        assert samples["c"].reason == "Modbus exception 2 (illegal data address)"
    assert reads == 4  # the merged read, then its three pieces
    assert reads_of_second == 3  # the split is remembered
    splits = [r for r in caplog.records if "split" in r.getMessage()]
    assert len(splits) == 1
    assert "input_register 0..11" in splits[0].getMessage()


async def test_a_tag_on_undefined_registers_does_not_blank_its_contiguous_neighbours(caplog):
    """Tags at holding registers 0, 1 and 2 are one request; register 2 is not defined (a
    mistyped address): a and b are still read, c stays BAD with the exception's reason."""
    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [7, 8])
    server = await start_modbus_server(bank)
    caplog.set_level(logging.INFO, logger="gateway.collectors.modbus")
    tags = [{"name": n, "space": "holding_register", "address": i} for i, n in enumerate("abc")]
    conn = connect(server.endpoint, tags)
    try:
        first = by_tag(await conn.scan(conn.plan.scans[0]))
        reads = conn.devices["feeder"].reads
        second = by_tag(await conn.scan(conn.plan.scans[0]))
        reads_of_second = conn.devices["feeder"].reads - reads
    finally:
        conn.close()
        await server.stop()
    for samples in (first, second):
        assert (samples["a"].value, samples["b"].value) == (7, 8)
        assert samples["c"].quality is Quality.BAD
        assert samples["c"].reason == "Modbus exception 2 (illegal data address)"
    assert (reads, reads_of_second) == (4, 3)  # the request, then one per tag; remembered
    splits = [r.getMessage() for r in caplog.records if "split" in r.getMessage()]
    assert len(splits) == 1
    assert "check the tags' addresses" in splits[0]


async def test_exception_11_on_every_request_hints_at_the_unit_id(feeder, caplog):
    server, _ = feeder
    caplog.set_level(logging.WARNING, logger="gateway.collectors.modbus")
    conn = connect(server.endpoint, HOLDING_AND_INPUT, unit_id=7)  # the server has unit 1
    try:
        for _ in range(3):
            samples = await conn.scan(conn.plan.scans[0])
    finally:
        conn.close()
    assert {s.reason for s in samples} == {
        "Modbus exception 11 (gateway target device failed to respond)"
    }
    hints = [r.getMessage() for r in caplog.records if "unit_id" in r.getMessage()]
    assert len(hints) == 1, hints
    assert "unit_id 7" in hints[0]
