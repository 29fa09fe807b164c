"""A device that hangs, drops its connection or answers with exceptions does not hold up the
others, and comes back by itself when the simulated PLC recovers."""

from __future__ import annotations

import asyncio

import pytest

from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.runtime.app import Gateway
from gateway.sinks.memory import MemorySink
from gateway.testing import memory_forwarders
from simulators.modbus_plc import ModbusPlc
from simulators.process.plant import Plant

pytestmark = pytest.mark.integration
TAGS = [
    {"name": "cell_voltage", "space": "input_register", "address": 0, "type": "float32"},
    {
        "name": "bath_temp",
        "space": "input_register",
        "address": 3,
        "type": "float32",
        "byte_order": "CDAB",
    },
]


def cell(name: str, endpoint: str, unit: int, **extra) -> ModbusDevice:
    return ModbusDevice.model_validate(
        {
            "name": name,
            "endpoint": endpoint,
            "unit_id": unit,
            "scan_rate": 0.1,
            "timeout": 2.0,
            "retries": 0,
            "measurement": "cell",
            "tags": TAGS,
            **extra,
        }
    )


def count(sink: MemorySink, device: str, good: bool = True) -> int:
    """Lines of `device` carrying a GOOD (good=True) or a not-GOOD cell_voltage sample."""
    return sum(
        1
        for _, tags, fields, _ in sink.parsed()
        if tags["device"] == device
        and "cell_voltage_quality" in fields
        and (fields["cell_voltage_quality"] == 0) == good
    )


@pytest.fixture
async def two_plcs():
    """Cells 1 and 2 of one plant, each behind its own Modbus PLC (own endpoint)."""
    plant = Plant(cells=2, seed=2)
    plcs = [ModbusPlc(plant, port=0, devices=[f"cell0{n}"]) for n in (1, 2)]
    for plc in plcs:
        await plc.start()
    yield plcs
    for plc in plcs:
        await plc.stop()


async def running(devices):
    sink = MemorySink()
    gateway = Gateway(compile_connections(devices), memory_forwarders(sink), commit_interval=0.05)
    return gateway, sink, asyncio.create_task(gateway.run())


async def stop(gateway, task):
    gateway.stop()
    await task


async def test_hung_device_does_not_delay_another_and_recovers(two_plcs):
    good, hung = two_plcs
    hung.faults("cell02").silent = True
    gateway, sink, task = await running(
        [cell("cell01", good.endpoint, 1), cell("cell02", hung.endpoint, 2)]
    )
    try:
        # ten 100 ms scans of cell01 complete while cell02's first scan waits for its 2 s timeout
        await sink.wait_for(lambda _: count(sink, "cell01") >= 10, 10)
        assert count(sink, "cell02") == 0
        assert gateway.connections[1].devices["cell02"].scans == 0
        hung.faults("cell02").silent = False
        await sink.wait_for(lambda _: count(sink, "cell02") >= 3, 30)  # back by itself
    finally:
        await stop(gateway, task)
    assert count(sink, "cell02", good=False) >= 1  # the hang was written as BAD, not skipped


async def test_dropped_connections_and_exceptions_stay_with_their_device(two_plcs):
    good, flaky = two_plcs
    gateway, sink, task = await running(
        [cell("cell01", good.endpoint, 1), cell("cell02", flaky.endpoint, 2)]
    )
    try:
        await sink.wait_for(lambda _: count(sink, "cell02") >= 2, 10)
        flaky.faults("cell02").exception = 4  # server device failure
        await sink.wait_for(lambda _: count(sink, "cell02", good=False) >= 2, 10)
        before = count(sink, "cell01")
        await flaky.drop_connections()
        await sink.wait_for(lambda _: count(sink, "cell01") >= before + 10, 10)
        flaky.faults("cell02").exception = None
        marker = count(sink, "cell02")
        await sink.wait_for(lambda _: count(sink, "cell02") >= marker + 2, 30)
    finally:
        await stop(gateway, task)
    reasons = {
        f.get("cell_voltage_reason") for _, t, f, _ in sink.parsed() if t["device"] == "cell02"
    }
    assert "Modbus exception 4 (server device failure)" in reasons
    assert count(sink, "cell01", good=False) == 0  # cell01 never had a bad sample


async def test_dead_unit_behind_a_shared_endpoint_is_demoted():
    """Units 1 and 2 behind one endpoint share a connection; unit 2 stops answering. After two
    failed scans it is demoted: its scans are skipped without I/O, so unit 1 is scanned on."""
    plant = Plant(cells=2, seed=2)
    plc = ModbusPlc(plant, port=0)
    await plc.start()
    plc.faults("cell02").silent = True
    gateway, sink, task = await running(
        [
            cell("cell01", plc.endpoint, 1, timeout=0.5),
            cell("cell02", plc.endpoint, 2, timeout=0.5, demote_after=2, demote_max=30),
        ]
    )
    (conn,) = gateway.connections
    try:
        await sink.wait_for(lambda _: conn.devices["cell02"].skipped_scans >= 1, 10)
        reads = conn.devices["cell02"].reads
        scans = conn.devices["cell01"].scans
        await sink.wait_for(lambda _: conn.devices["cell01"].scans >= scans + 10, 10)
        assert conn.devices["cell02"].reads <= reads + 1  # at most one retry meanwhile
        assert conn.devices["cell02"].skipped_scans >= 5
        assert int(conn.devices["cell02"].state) == -1
    finally:
        await stop(gateway, task)
        await plc.stop()
    reasons = {
        f.get("cell_voltage_reason") for _, t, f, _ in sink.parsed() if t["device"] == "cell02"
    }
    assert any(r and r.startswith("device demoted:") for r in reasons)


async def test_dead_unit_with_retries_and_a_faster_rate_never_breaks_the_shared_link():
    """The review's case: retries 1 (the default) and the dead unit polled faster than the
    live one. The live unit must see no BAD sample; the dead one is demoted."""
    plant = Plant(cells=2, seed=2)
    plc = ModbusPlc(plant, port=0)
    await plc.start()
    plc.faults("cell02").silent = True
    gateway, sink, task = await running(
        [
            cell("cell01", plc.endpoint, 1, timeout=0.3, retries=1, scan_rate=0.5),
            cell("cell02", plc.endpoint, 2, timeout=0.3, retries=1, scan_rate=0.1),
        ]
    )
    (conn,) = gateway.connections
    try:
        await sink.wait_for(lambda _: count(sink, "cell01") >= 8, 30)
        assert int(conn.devices["cell02"].state) == -1  # demoted
    finally:
        await stop(gateway, task)
        await plc.stop()
    assert count(sink, "cell01", good=False) == 0
    assert conn.stats.connect_failures == 0  # the shared link was never closed


async def test_hung_device_on_its_own_link_is_demoted_not_flapping():
    plant = Plant(cells=1, seed=2)
    plc = ModbusPlc(plant, port=0)
    await plc.start()
    plc.faults("cell01").silent = True
    gateway, sink, task = await running(
        [cell("cell01", plc.endpoint, 1, timeout=0.2, retries=0, demote_after=2)]
    )
    (conn,) = gateway.connections
    try:
        await sink.wait_for(lambda _: conn.devices["cell01"].skipped_scans >= 3, 30)
        assert int(conn.devices["cell01"].state) == -1
        plc.faults("cell01").silent = False
        await sink.wait_for(lambda _: count(sink, "cell01") >= 2, 30)  # back by itself
    finally:
        await stop(gateway, task)
        await plc.stop()
    assert int(conn.devices["cell01"].state) == 1
