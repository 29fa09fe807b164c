"""The Modbus collector against real pymodbus servers on 127.0.0.1 (port 0)."""

from __future__ import annotations

import asyncio
import struct

import pytest

from gateway.collectors.modbus.collector import ModbusConnection
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import Space
from gateway.model import Quality, Sample
from gateway.pipeline import build_pipeline
from gateway.runtime.app import Gateway
from gateway.sinks.memory import MemorySink
from gateway.testing import memory_forwarders
from simulators.modbus_server import RegisterBank, start_modbus_server

pytestmark = pytest.mark.integration

NS = 1_000_000_000


def f32_words(value: float) -> list[int]:
    """float32 as two big-endian registers (ABCD)."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


@pytest.fixture
async def plc():
    """A PLC with unit 1: a float32 CDAB voltage, a scaled int16 current, a bit-packed alarm
    word, a uint32 counter, a product string and a coil."""
    bank = RegisterBank()
    unit = bank.unit(1)
    high, low = f32_words(9.75)  # 0x411C 0x0000
    unit.set(Space.INPUT_REGISTER, 0, [low, high])  # CDAB: low word first
    unit.set(Space.INPUT_REGISTER, 2, [struct.unpack(">H", struct.pack(">h", -123))[0]])
    unit.set(Space.INPUT_REGISTER, 3, [0b0000_0000_0000_0101])  # alarm bits 0 and 2 set
    unit.set(Space.INPUT_REGISTER, 4, [0] * 6)  # defined but unused: a bridged gap reads them
    unit.set(Space.INPUT_REGISTER, 10, [0x0001, 0x86A0])  # uint32 100000
    unit.set(Space.HOLDING_REGISTER, 100, [0x4E64, 0x0000])  # "Nd"
    unit.set(Space.COIL, 5, [1])
    server = await start_modbus_server(bank)
    yield server
    await server.stop()


def device(endpoint: str, name: str = "cell01", **extra) -> ModbusDevice:
    tags = [
        {
            "name": "voltage",
            "space": "input_register",
            "address": 0,
            "type": "float32",
            "byte_order": "CDAB",
            "unit": "V",
        },
        {
            "name": "current",
            "space": "input_register",
            "address": 2,
            "type": "int16",
            "scale": {"factor": 0.1},
            "unit": "kA",
        },
        {
            "name": "alarm_low_oxide",
            "space": "input_register",
            "address": 3,
            "type": "bit",
            "bit": 0,
        },
        {
            "name": "alarm_anode_effect",
            "space": "input_register",
            "address": 3,
            "type": "bit",
            "bit": 1,
        },
        {
            "name": "alarm_overtemp",
            "space": "input_register",
            "address": 3,
            "type": "bit",
            "bit": 2,
        },
        {"name": "taps", "space": "input_register", "address": 10, "type": "uint32"},
        {
            "name": "product",
            "space": "holding_register",
            "address": 100,
            "type": "string",
            "length": 2,
        },
        {"name": "feeding", "space": "coil", "address": 5},
    ]
    fields = {
        "name": name,
        "endpoint": endpoint,
        "unit_id": 1,
        "timeout": 0.5,
        "retries": 0,
        "measurement": "cell",
        "metadata": {"site": "baotou", "line": "1"},
        "tags": tags,
    }
    fields.update(extra)
    return ModbusDevice.model_validate(fields)


def by_tag(samples: list[Sample]) -> dict[str, Sample]:
    return {s.point.tag: s for s in samples}


async def test_scan_decodes_every_type_through_the_pipeline(plc):
    (plan,) = compile_connections((device(plc.endpoint, max_gap=8),))
    connection = ModbusConnection(plan, lambda _: None)
    try:
        samples = build_pipeline(plan.scans[0].tags).apply(await connection.scan_all())
    finally:
        connection.close()
    got = {tag: (s.value, s.quality) for tag, s in by_tag(samples).items()}
    assert got == {
        "voltage": (9.75, Quality.GOOD),
        "current": (pytest.approx(-12.3), Quality.GOOD),
        "alarm_low_oxide": (True, Quality.GOOD),
        "alarm_anode_effect": (False, Quality.GOOD),
        "alarm_overtemp": (True, Quality.GOOD),
        "taps": (100000, Quality.GOOD),
        "product": ("Nd", Quality.GOOD),
        "feeding": (True, Quality.GOOD),
    }
    # input registers 0-3 and 10-11 are one read with max_gap 8; plus holding and coil reads
    assert [(r.space, r.start, r.count) for r in plan.scans[0].requests] == [
        (Space.COIL, 5, 1),
        (Space.HOLDING_REGISTER, 100, 2),
        (Space.INPUT_REGISTER, 0, 12),
    ]
    assert connection.devices["cell01"].reads == 3


async def test_modbus_exception_makes_only_the_affected_tags_bad(plc):
    dev = device(plc.endpoint)
    missing = {"name": "missing", "space": "input_register", "address": 500}
    dev = ModbusDevice.model_validate(
        {**dev.model_dump(), "tags": [*[t.model_dump() for t in dev.tags], missing]}
    )
    (plan,) = compile_connections((dev,))
    connection = ModbusConnection(plan, lambda _: None)
    try:
        samples = by_tag(await connection.scan_all())
    finally:
        connection.close()
    assert samples["missing"].quality is Quality.BAD
    assert samples["missing"].value is None
    assert samples["missing"].reason == "Modbus exception 2 (illegal data address)"
    assert samples["voltage"].quality is Quality.GOOD
    assert samples["product"].value == "Nd"


async def test_device_busy_exception_is_bad_with_reason(plc):
    plc.bank.unit(1).faults.exception = 6
    (plan,) = compile_connections((device(plc.endpoint),))
    connection = ModbusConnection(plan, lambda _: None)
    try:
        samples = await connection.scan_all()
    finally:
        connection.close()
    assert {s.reason for s in samples} == {"Modbus exception 6 (server device busy)"}
    assert all(s.quality is Quality.BAD and s.value is None for s in samples)


async def test_timestamp_is_taken_when_the_response_arrives(plc):
    plc.bank.unit(1).faults.delay = 0.3
    (plan,) = compile_connections((device(plc.endpoint, max_gap=8),))
    connection = ModbusConnection(plan, lambda _: None)
    loop = asyncio.get_running_loop()
    try:
        await connection.scan(plan.scans[0])  # connect first
        import time

        before = time.time_ns()
        samples = await connection.scan(plan.scans[0])
    finally:
        connection.close()
    # three requests, each answered 0.3 s late: the last request's samples are stamped at
    # least 0.9 s after the scan began, the first at least 0.3 s.
    first = min(s.time_ns for s in samples)
    last = max(s.time_ns for s in samples)
    assert first - before >= 300_000_000
    assert last - before >= 900_000_000
    assert loop.is_running()


async def test_unreachable_device_gives_bad_samples_then_recovers(plc):
    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [42])
    server = await start_modbus_server(bank)
    port = server.port
    await server.stop()  # nothing listens on `port` now
    dev = ModbusDevice.model_validate(
        {
            "name": "rect",
            "endpoint": f"modbus+tcp://127.0.0.1:{port}",
            "timeout": 0.5,
            "tags": [{"name": "setpoint", "space": "holding_register", "address": 0}],
        }
    )
    (plan,) = compile_connections((dev,))
    connection = ModbusConnection(plan, lambda _: None, backoff=(0.05, 0.1))
    try:
        (down,) = await connection.scan(plan.scans[0])
        assert down.quality is Quality.BAD
        assert down.reason.startswith("not connected:")
        assert connection.stats.connected is False
        server = await start_modbus_server(bank, port=port)
        samples: list[Sample] = []
        for _ in range(100):  # bounded: the backoff here is at most 0.1 s
            samples = await connection.scan(plan.scans[0])
            if samples[0].quality is Quality.GOOD:
                break
            await asyncio.sleep(0.05)
        assert samples[0].value == 42
        assert connection.stats.connected is True
    finally:
        connection.close()
        await server.stop()


async def test_dead_device_does_not_delay_another_device():
    """Device A never answers (timeout 2 s); device B, on its own connection, keeps its 50 ms
    schedule: it completes ten scans before A's first scan has even failed."""
    banks = [RegisterBank(), RegisterBank()]
    for bank in banks:
        bank.unit(1).set(Space.HOLDING_REGISTER, 0, [7])
    banks[0].unit(1).faults.silent = True
    servers = [await start_modbus_server(bank) for bank in banks]
    tag = [{"name": "x", "space": "holding_register", "address": 0}]
    devices = (
        ModbusDevice.model_validate(
            {
                "name": "a",
                "endpoint": servers[0].endpoint,
                "timeout": 2.0,
                "retries": 0,
                "scan_rate": 0.05,
                "tags": tag,
            }
        ),
        ModbusDevice.model_validate(
            {
                "name": "b",
                "endpoint": servers[1].endpoint,
                "timeout": 2.0,
                "retries": 0,
                "scan_rate": 0.05,
                "tags": tag,
            }
        ),
    )
    sink = MemorySink()
    gateway = Gateway(compile_connections(devices), memory_forwarders(sink), commit_interval=0.05)
    run = asyncio.create_task(gateway.run())
    try:
        await sink.wait_for(lambda lines: sum("device=b" in ln for ln in lines) >= 10, 10)
        a_lines = [ln for ln in sink.lines if "device=a" in ln]
        assert a_lines == []  # A's first scan is still waiting for its 2 s timeout
        a, b = gateway.connections
        assert a.devices["a"].scans == 0
        assert b.devices["b"].scans >= 10
    finally:
        gateway.stop()
        await run
        for server in servers:
            await server.stop()


async def test_gateway_writes_scans_into_the_sink_with_metadata(plc):
    sink = MemorySink()
    plans = compile_connections((device(plc.endpoint, scan_rate=0.1),))
    gateway = Gateway(plans, memory_forwarders(sink), commit_interval=0.05)
    run = asyncio.create_task(gateway.run())
    try:
        await sink.wait_for(lambda lines: len(lines) >= 1, 10)
    finally:
        gateway.stop()
        assert await run is True
    parsed = sink.parsed()
    assert {m for m, _, _, _ in parsed} == {"cell"}
    assert {tuple(sorted(t.items())) for _, t, _, _ in parsed} == {
        (("device", "cell01"), ("line", "1"), ("site", "baotou"))
    }
    fields: dict[str, object] = {}
    for _, _, line_fields, _ in parsed:  # one line per response: timestamps are per request
        fields.update(line_fields)
    assert fields["voltage"] == 9.75
    assert fields["voltage_quality"] == 0
    assert fields["product"] == "Nd"
    assert fields["feeding"] is True
    assert sink.closed


async def test_a_connection_nobody_answers_on_is_reopened_with_backoff():
    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [5])
    server = await start_modbus_server(bank)
    dev = ModbusDevice.model_validate(
        {
            "name": "rect",
            "endpoint": server.endpoint,
            "timeout": 0.3,
            "retries": 0,
            "demote_after": 0,
            "tags": [{"name": "sp", "space": "holding_register", "address": 0}],
        }
    )
    (plan,) = compile_connections((dev,))
    connection = ModbusConnection(plan, lambda _: None, backoff=(0.05, 0.1))
    try:
        (ok,) = await connection.scan(plan.scans[0])
        assert ok.value == 5
        bank.unit(1).faults.silent = True
        for _ in range(3):
            await connection.scan(plan.scans[0])
        assert connection.stats.connect_failures >= 1  # closed after the silence
        bank.unit(1).faults.silent = False
        for _ in range(50):  # bounded; the backoff here is at most 0.1 s
            (sample,) = await connection.scan(plan.scans[0])
            if sample.value == 5:
                break
            await asyncio.sleep(0.05)
        assert sample.value == 5
        assert connection.stats.connects >= 2  # it reconnected
    finally:
        connection.close()
        await server.stop()


async def test_one_silent_unit_does_not_reopen_a_shared_connection():
    bank = RegisterBank()
    for unit in (1, 2):
        bank.unit(unit).set(Space.HOLDING_REGISTER, 0, [unit])
    bank.unit(2).faults.silent = True
    server = await start_modbus_server(bank)
    tag = [{"name": "x", "space": "holding_register", "address": 0}]
    devices = tuple(
        ModbusDevice.model_validate(
            {
                "name": f"u{n}",
                "endpoint": server.endpoint,
                "unit_id": n,
                "timeout": 0.3,
                "retries": 0,
                "demote_after": 0,
                "tags": tag,
            }
        )
        for n in (1, 2)
    )
    (plan,) = compile_connections(devices)
    connection = ModbusConnection(plan, lambda _: None)
    try:
        for _ in range(4):
            for scan in plan.scans:
                await connection.scan(scan)
        assert connection.stats.connects == 1
        assert connection.stats.connect_failures == 0
    finally:
        connection.close()
        await server.stop()


async def test_scans_run_at_once_then_each_on_its_own_phase():
    """Two units behind one endpoint at one rate: both are read at the start, then on the
    connection's phase of the wall-clock grid, together (one after the other on the link)."""
    from gateway.collectors.schedule import phases
    from gateway.testing import FakeClock

    bank = RegisterBank()
    for unit in (1, 2):
        bank.unit(unit).set(Space.HOLDING_REGISTER, 0, [unit])
    server = await start_modbus_server(bank)
    tag = [{"name": "x", "space": "holding_register", "address": 0}]
    devices = tuple(
        ModbusDevice.model_validate(
            {"name": f"u{n}", "endpoint": server.endpoint, "unit_id": n, "tags": tag}
        )
        for n in (1, 2)
    )
    (plan,) = compile_connections(devices)
    clock = FakeClock()
    start_ns = clock.now_ns()
    seen: list[tuple[str, int]] = []
    stop = asyncio.Event()

    async def emit(batch) -> None:
        seen.extend((f"u{s.value}", s.time_ns) for s in batch.readings())  # unit n reads n
        if len(seen) >= 8:
            stop.set()

    connection = ModbusConnection(plan, emit, clock)
    try:
        await asyncio.wait_for(connection.run(stop), 10)
    finally:
        await server.stop()
    assert sorted(seen[:2]) == [("u1", start_ns), ("u2", start_ns)]  # both at once
    phase = phases(connection.name, [("u1", 1.0), ("u2", 1.0)])
    for dev, t in seen[2:]:
        assert t % NS == pytest.approx(phase[dev, 1.0], abs=1_000)
    assert phase["u1", 1.0] == phase["u2", 1.0]
    assert 0 < phase["u1", 1.0] < NS
    assert [t for _, t in seen[2:]] == sorted(t for _, t in seen[2:])  # in due order
    assert seen[-1][1] - seen[2][1] < 3 * NS  # one scan per device per second
