"""The fast path through the running gateway, against a real pymodbus server: observers see
every reading, the database gets the same values, numbers as the PLC meant them."""

from __future__ import annotations

import asyncio
import struct

import pytest

from gateway.collectors.modbus.collector import ModbusConnection
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import Space
from gateway.model import Quality, Sample
from gateway.runtime.app import Gateway
from gateway.sinks.memory import MemorySink
from gateway.testing import memory_forwarders
from simulators.modbus_server import RegisterBank, start_modbus_server

pytestmark = pytest.mark.integration

TAGS = [
    {"name": "line_voltage", "space": "input_register", "address": 0, "type": "float32"},
    {"name": "count", "space": "input_register", "address": 2, "type": "uint32"},
    {"name": "anode_remaining", "space": "input_register", "address": 4, "scale": {"factor": 0.1}},
    {"name": "broken", "space": "input_register", "address": 10, "type": "float32"},  # NaN
    {"name": "running", "space": "coil", "address": 0},
]


@pytest.fixture
async def plc():
    bank = RegisterBank()
    unit = bank.unit(1)
    unit.set(
        Space.INPUT_REGISTER, 0, list(struct.unpack(">HH", struct.pack(">f", 105.24388885498047)))
    )
    unit.set(Space.INPUT_REGISTER, 2, [0x0001, 0x86A0, 943])
    unit.set(Space.INPUT_REGISTER, 10, [0x7FC0, 0x0000])
    unit.set(Space.COIL, 0, [1])
    server = await start_modbus_server(bank)
    yield server
    await server.stop()


def plans(endpoint: str, scan_rate: float = 0.05):
    device = ModbusDevice.model_validate(
        {"name": "rect", "endpoint": endpoint, "scan_rate": scan_rate, "tags": TAGS}
    )
    return compile_connections([device])


async def test_plain_good_values_never_become_samples_on_the_way_to_the_buffer(plc):
    (plan,) = plans(plc.endpoint)
    connection = ModbusConnection(plan, lambda _: asyncio.sleep(0))
    try:
        batch = await connection.scan_batch(plan.scans[0])
    finally:
        connection.close()
    assert sum(e.count for e in batch.encoded) == 3  # line_voltage, count, running
    assert {s.point.tag for s in batch.samples} == {"anode_remaining", "broken"}
    assert [s.point.tag for s in batch.readings()] == [
        "running",
        "line_voltage",
        "count",
        "anode_remaining",
        "broken",
    ]


async def test_observers_see_every_reading_and_the_sink_the_same_values(plc):
    seen: list[list[Sample]] = []
    sink = MemorySink()
    gateway = Gateway(
        plans(plc.endpoint), memory_forwarders(sink), commit_interval=0.05, observers=[seen.append]
    )
    run = asyncio.create_task(gateway.run())
    try:
        await sink.wait_for(lambda lines: sum("running=" in ln for ln in lines) >= 3, 10)
    finally:
        gateway.stop()
        assert await run is True
    assert len(seen) >= 3
    for scan in seen:
        by_tag = {s.point.tag: s for s in scan}
        assert sorted(by_tag) == sorted(t["name"] for t in TAGS)
        assert by_tag["line_voltage"].value == 105.24388885498047  # the reading stays exact
        assert by_tag["count"].value == 100000
        assert by_tag["anode_remaining"].value == 94.3  # engineering units, rounded
        assert by_tag["broken"].quality is Quality.BAD
        assert by_tag["running"].value is True
    text = "\n".join(sink.lines)
    assert "line_voltage=105.24389,line_voltage_quality=0i" in text
    assert "count=100000i,count_quality=0i" in text
    assert "anode_remaining=94.3,anode_remaining_quality=0i" in text
    assert 'broken_quality=2i,broken_reason="not a finite number (nan)"' in text
    assert "running=true,running_quality=0i" in text
    written = sum(ln.count("_quality=") for ln in sink.lines)
    assert gateway.pipeline.received == gateway.pipeline.passed >= written


async def test_an_unchanged_response_is_not_formatted_again(plc, monkeypatch):
    """The lines of a response whose registers did not change since the last scan are those
    of the last scan (with the new timestamp); a change is formatted again."""
    from gateway.collectors.modbus import responsecache as collector  # where encoding lives

    calls = []
    encode = collector.encode_values
    monkeypatch.setattr(collector, "encode_values", lambda *args: calls.append(1) or encode(*args))
    device = ModbusDevice.model_validate(
        {"name": "rect", "endpoint": plc.endpoint, "tags": TAGS[:2], "scan_rate": 1}
    )
    (plan,) = compile_connections([device])
    connection = ModbusConnection(plan, lambda _: asyncio.sleep(0))
    unit = plc.bank.unit(1)
    try:
        first = await connection.scan_batch(plan.scans[0])
        second = await connection.scan_batch(plan.scans[0])
        unit.set(Space.INPUT_REGISTER, 2, [0x0001, 0x86A1])
        third = await connection.scan_batch(plan.scans[0])
    finally:
        connection.close()
    heads = [b.encoded[0].heads for b in (first, second, third)]
    assert (
        heads[0]
        == heads[1]
        == [
            "modbus,device=rect line_voltage=105.24389,"
            "line_voltage_quality=0i,count=100000i,count_quality=0i"
        ]
    )
    assert heads[2] == [heads[0][0].replace("count=100000i", "count=100001i")]
    assert len(calls) == 2
    assert first.encoded[0].time_ns < second.encoded[0].time_ns < third.encoded[0].time_ns
    assert [s.value for s in second.readings()] == [105.24388885498047, 100000]
