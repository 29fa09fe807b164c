"""Twelve units on one pty line: the due scans take turns, a silent unit costs one timeout
budget per scan and is demoted. Counts of requests and scans, never wall-clock times."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from gateway.collectors.modbus.bus import BROADCAST, NOT_ANSWERED, ModbusBus
from gateway.collectors.schedule import Stop
from gateway.model import Batch, Quality, Sample
from tests.busplan import BLOCKS, bus_plan, device, on_line
from tests.busserver import serve_serial
from tests.integration.test_modbus_bus import bank_of, expected, until, values
from tests.tasks import cancel_and_wait

pytestmark = pytest.mark.integration

UNITS = list(range(1, 13))


class Recorder:
    """The batches a bus emitted, by device."""

    def __init__(self) -> None:
        self.by_device: dict[str, list[list[Sample]]] = defaultdict(list)

    async def __call__(self, batch: Batch) -> None:
        readings = batch.readings()
        self.by_device[readings[0].point.device].append(readings)


async def running(bus: ModbusBus, condition, seconds: float = 30.0) -> None:
    task = asyncio.create_task(bus.run())
    try:
        await until(condition, seconds)
    finally:
        await cancel_and_wait(task, "the bus")


async def test_twelve_units_take_turns_and_each_is_read_every_scan(serial_line):
    gateway_end, device_end = serial_line
    server = await serve_serial(bank_of(*UNITS), device_end)
    record = Recorder()
    bus = ModbusBus(bus_plan(on_line(gateway_end), [device(u) for u in UNITS]), record)
    try:
        await running(bus, lambda: all(bus.devices[f"u{u}"].scans >= 4 for u in UNITS))
    finally:
        await server.shutdown()
    # the first round: one request of every unit's scan in turn, then the second of each
    assert server.order[: 3 * len(UNITS)] == UNITS * BLOCKS
    scans = [bus.devices[f"u{u}"].scans for u in UNITS]
    assert max(scans) - min(scans) <= 1
    for u in UNITS:
        for readings in record.by_device[f"u{u}"]:
            assert values(readings) == expected(u)
            assert all(s.quality is Quality.GOOD for s in readings)


async def test_a_device_with_many_requests_does_not_hold_the_line(serial_line):
    gateway_end, device_end = serial_line
    server = await serve_serial(bank_of(1, 2, blocks=30), device_end)
    many, one = device(1, blocks=30, scan_rate=1.0), device(2, blocks=1, scan_rate=0.2)
    record = Recorder()
    bus = ModbusBus(bus_plan(on_line(gateway_end), [many, one]), record)
    try:
        await running(bus, lambda: bus.devices["u1"].scans >= 3)
    finally:
        await server.shutdown()
    # unit 2's one request goes out second, not after unit 1's thirty
    assert server.order[:3] == [1, 2, 1]
    assert bus.devices["u2"].scans >= bus.devices["u1"].scans + 2


async def test_a_silent_unit_costs_one_timeout_budget_per_scan_then_is_demoted(serial_line):
    gateway_end, device_end = serial_line
    bank = bank_of(*UNITS)
    bank.unit(7).faults.silent = True
    server = await serve_serial(bank, device_end)
    record = Recorder()
    devices = [device(u, blocks=2, scan_rate=0.8, demote_after=2) for u in UNITS]
    timing = {"u7": (0.1, 1, 0.0)}
    bus = ModbusBus(bus_plan(on_line(gateway_end), devices, retries=1, timing=timing), record)
    silent = bus.devices["u7"]
    healthy = [bus.devices[f"u{u}"] for u in UNITS if u != 7]
    try:
        await running(bus, lambda: silent.skipped_scans >= 2 and min(s.scans for s in healthy) >= 6)
    finally:
        await server.shutdown()
    # each scan of the silent unit tried only its first request, with its one retry ...
    assert silent.scans >= 2
    assert server.requests[7] == 2 * silent.scans
    # ... and no scan it skipped while demoted sent anything
    assert silent.skipped_scans >= 2
    reasons = {s.reason for readings in record.by_device["u7"] for s in readings}
    assert reasons == {
        "no response within 0.1s",
        NOT_ANSWERED,
        "device demoted: no response within 0.1s",
    }
    # the others lost nothing: every reading GOOD, every slot of theirs scanned alike
    for u in UNITS:
        if u != 7:
            readings = [s for r in record.by_device[f"u{u}"] for s in r]
            assert all(s.quality is Quality.GOOD for s in readings)
    scans = [s.scans for s in healthy]
    assert max(scans) - min(scans) <= 1
    assert min(scans) >= silent.scans + silent.skipped_scans - 1
    # one timeout budget (2 x 0.1 s, 2 drains) fits the 0.8 s rate beside the others' reads
    assert sum(s.late_scans for s in healthy) <= 0.25 * sum(scans)


async def test_unit_0_is_never_read(serial_line):
    gateway_end, device_end = serial_line
    server = await serve_serial(bank_of(0, 1), device_end)
    plan = bus_plan(on_line(gateway_end), [device(1), device(0)])
    broadcast = plan.scans[1]
    record = Recorder()
    bus = ModbusBus(plan, record)
    try:
        once = await bus.scan(broadcast)
        await running(bus, lambda: bus.devices["u1"].scans >= 3)
    finally:
        await server.shutdown()
    assert set(server.order) == {1}
    assert {s.reason for s in once} == {BROADCAST}
    assert {s.reason for r in record.by_device["u1"] for s in r} == {""}
    assert {s.reason for r in record.by_device["u0"] for s in r} == {BROADCAST}
    assert bus.devices["u0"].reads == 0


async def test_on_stop_the_scans_in_progress_complete(serial_line):
    gateway_end, device_end = serial_line
    server = await serve_serial(bank_of(*UNITS), device_end)
    stop = Stop()
    emitted: list[Batch] = []

    async def emit(batch: Batch) -> None:
        emitted.append(batch)
        stop.set()  # at the first batch: the other eleven scans are under way

    bus = ModbusBus(bus_plan(on_line(gateway_end), [device(u) for u in UNITS]), emit)
    try:
        await asyncio.wait_for(bus.run(stop), 30)
    finally:
        await server.shutdown()
    assert len(emitted) == len(UNITS)
    assert all(s.quality is Quality.GOOD for b in emitted for s in b.readings())
