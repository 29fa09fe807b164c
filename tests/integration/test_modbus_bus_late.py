"""Late answers on a bus (pymodbus's RTU server on a socat pty pair): an answer that comes
after its read gave up is never taken for another read's values, however late, and a late
answer of one unit does not spoil the next unit's read. Values and counts, never times."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from pymodbus.framer import FramerRTU

from gateway.collectors.modbus.bus import ModbusBus
from gateway.collectors.modbus.buslink import BusLink, NoAnswer
from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.types import Space
from gateway.model import Quality, Sample
from simulators.modbus_server import RegisterBank
from tests.busplan import BLOCKS, bus_plan, device, holding, on_line
from tests.busserver import serve_rtu_tcp, serve_serial
from tests.integration.test_modbus_bus import bank_of, discard, expected, values

pytestmark = pytest.mark.integration

#: a generous bound (not a measured time) for a unit to be read right again once it keeps up
RECOVERY_DEADLINE = 60.0


def slowed(bank: RegisterBank, delay: dict[int, float]) -> None:
    """Unit u answers `delay[u]` seconds late (0: at once), the server one request at a time."""

    async def slow_get(device_id, func_code, address, count=1):
        if delay.get(device_id, 0.0):
            await asyncio.sleep(delay[device_id])
        return await RegisterBank.async_getValues(bank, device_id, func_code, address, count)

    bank.async_getValues = slow_get  # type: ignore[method-assign]


def wrong(samples: list[Sample]) -> list[tuple[str, str, object]]:
    """GOOD samples whose value is not the register's own."""
    truth = expected(*{int(s.point.device[1:]) for s in samples})
    return [
        (s.point.device, s.point.tag, s.value)
        for s in samples
        if s.quality is Quality.GOOD and truth[s.point.device, s.point.tag] != s.value
    ]


@pytest.mark.parametrize("late", [0.3, 0.5])
@pytest.mark.parametrize("retries", [0, 1])
async def test_an_answer_later_than_the_drain_window_is_never_the_next_reads(
    serial_line, late, retries
):
    """19200 baud: the drain window is 50 ms; the read at 0 is answered `late` s after it
    was sent (its timeout is 0.2 s). The reads at 10 and 20 (same unit, function, count)
    never return register 0's value; the one at 20, once the unit keeps up, is right."""
    gateway_end, device_end = serial_line
    bank = bank_of(1)
    delay = {1: late}
    slowed(bank, delay)
    server = await serve_serial(bank, device_end)
    link = BusLink(on_line(gateway_end), timeout=0.2, name="t", on_closed=lambda: None)
    got = []
    try:
        assert await link.connect() == ""
        with pytest.raises(NoAnswer):
            await link.read("read_holding_registers", 0, 1, 1, timeout=0.2, retries=retries)
        delay[1] = 0.0
        with contextlib.suppress(NoAnswer):  # not in sync yet: no value, never a wrong one
            answer = await link.read("read_holding_registers", 10, 1, 1, timeout=0.2)
            got.append(answer.registers)
        answer = await link.read("read_holding_registers", 20, 1, 1, timeout=1.0, retries=2)
        got.append(answer.registers)
    finally:
        link.close()
        await server.shutdown()
    assert [holding(1, 0)] not in got
    assert got[-1] == [holding(1, 2)]
    assert all(g in ([holding(1, 1)], [holding(1, 2)]) for g in got)


async def test_a_unit_slower_than_its_timeout_never_gives_a_wrong_value(serial_line):
    """Every answer of unit 1 is later than its timeout, scan after scan: its tags are BAD,
    never another register's value; once it answers in time again its values are right."""
    gateway_end, device_end = serial_line
    bank = bank_of(1)
    delay = {1: 0.3}
    slowed(bank, delay)
    server = await serve_serial(bank, device_end)
    plan = bus_plan(on_line(gateway_end), [device(1, demote_after=100)], timeout=0.2, retries=1)
    bus = ModbusBus(plan, discard)
    slow: list[Sample] = []
    fast: list[Sample] = []
    try:
        for _ in range(6):
            slow += await bus.scan_all()
        delay[1] = 0.0
        # Scan until the values are right: how many scans the unit needs to be answered in
        # time again (0.2 s) depends on the machine's load, not on what is checked here.
        deadline = time.monotonic() + RECOVERY_DEADLINE
        while not right(fast[-BLOCKS:]) and time.monotonic() < deadline:
            fast += await bus.scan_all()
    finally:
        bus.close()
        await server.shutdown()
    assert not wrong(slow + fast)
    assert right(fast[-BLOCKS:]), [(s.point.tag, s.quality, s.reason) for s in fast[-BLOCKS:]]


def right(scan: list[Sample]) -> bool:
    """One scan of unit 1, every tag GOOD with its register's value."""
    return (
        len(scan) == BLOCKS
        and all(s.quality is Quality.GOOD for s in scan)
        and values(scan) == expected(1)
    )


async def test_a_late_answer_of_one_unit_does_not_spoil_the_next_units_read(serial_line):
    """Unit 1 answers after its timeout and the drain window, while unit 2's read waits: the
    frame of unit 1 is skipped and unit 2's own answer, right behind it, is taken."""
    gateway_end, device_end = serial_line
    bank = bank_of(1, 2)
    slowed(bank, {1: 0.3})
    server = await serve_serial(bank, device_end)
    # Unit 2's own timeout is not what is tested: a generous one keeps a loaded machine from
    # failing its read (unit 1's late frame still comes in while unit 2's read waits).
    plan = bus_plan(
        on_line(gateway_end),
        [device(1, demote_after=100), device(2)],
        timeout=0.2,
        retries=0,
        timing={"u2": (5.0, 0, 0.0)},
    )
    bus = ModbusBus(plan, discard)
    samples: list[Sample] = []
    try:
        for _ in range(3):
            samples += await bus.scan_all()
    finally:
        bus.close()
        await server.shutdown()
    unit2 = [s for s in samples if s.point.device == "u2"]
    assert len(unit2) == 3 * BLOCKS
    assert all(s.quality is Quality.GOOD for s in unit2), [s.reason for s in unit2]
    assert not wrong(samples)


async def test_the_timeout_is_the_devices_answer_time_the_wire_time_comes_on_top(serial_line):
    """125 registers at 9600 baud 8N1: 263 bytes, 0.27 s on the wire, more than the 0.2 s
    timeout. A pty passes bytes at once, so the device here answers as late as the frames
    would take on a real line, plus a short turnaround: the read is answered in time."""
    gateway_end, device_end = serial_line
    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, list(range(125)))
    wire = (8 + 5 + 2 * 125) * 10 / 9600
    slowed(bank, {1: wire + 0.03})
    server = await serve_serial(bank, device_end)
    link = BusLink(
        on_line(gateway_end, baudrate=9600), timeout=0.2, name="t", on_closed=lambda: None
    )
    try:
        assert await link.connect() == ""
        answer = await link.read("read_holding_registers", 0, 125, 1, timeout=0.2)
    finally:
        link.close()
        await server.shutdown()
    assert answer.registers == list(range(125))


async def test_bytes_a_device_server_still_sends_after_connecting_are_dropped():
    """A device server forwards a late answer of the previous connection just after the
    new one opens (0.1 s), a valid frame of the very read the gateway sends first; it passes
    answers on 0.15 s late. The link keeps the line quiet after connecting: the first read
    gets its own answer, not the forwarded one."""
    server, port = await serve_rtu_tcp(bank_of(4))
    stale = rtu_frame(bytes([4, 3, 2, 0x03, 0xE7]))  # 999: the previous connection's answer

    opened: list[asyncio.StreamWriter] = []  # closed by the test: no socket outlives it

    async def device_server(reader, writer):
        upstream_reader, upstream = await asyncio.open_connection("127.0.0.1", port)
        opened.extend((writer, upstream))

        async def forward_stale():
            await asyncio.sleep(0.1)
            writer.write(stale)

        async def requests():
            while data := await reader.read(256):
                upstream.write(data)

        async def answers():
            while data := await upstream_reader.read(256):
                await asyncio.sleep(0.15)
                writer.write(data)

        await asyncio.gather(forward_stale(), requests(), answers(), return_exceptions=True)

    relay = await asyncio.start_server(device_server, "127.0.0.1", 0)
    relay_port = relay.sockets[0].getsockname()[1]
    line = Endpoint("modbus+rtu-tcp", "127.0.0.1", relay_port, baudrate=1200)  # 0.59 s quiet
    link = BusLink(line, timeout=0.3, name="t", on_closed=lambda: None)
    try:
        assert await link.connect() == ""
        answer = await link.read("read_holding_registers", 0, 1, 4, timeout=0.3)
    finally:
        link.close()
        for stream in opened:
            stream.close()
        for stream in opened:
            with contextlib.suppress(OSError):
                await stream.wait_closed()
        relay.close()
        await relay.wait_closed()
        await server.shutdown()
    assert answer.registers == [holding(4, 0)]


def rtu_frame(body: bytes) -> bytes:
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


async def test_a_unit_out_of_sync_stays_so_over_a_reconnect(serial_line):
    """The late answer of a read that failed before the port was reopened can still come:
    the first read after reopening is preceded by a resync read."""
    gateway_end, device_end = serial_line
    bank = bank_of(1)
    delay = {1: 0.5}
    slowed(bank, delay)
    server = await serve_serial(bank, device_end)
    link = BusLink(on_line(gateway_end), timeout=0.2, name="t", on_closed=lambda: None)
    try:
        assert await link.connect() == ""
        with pytest.raises(NoAnswer):
            await link.read("read_holding_registers", 0, 1, 1, timeout=0.2)
        link.close()
        delay[1] = 0.0
        assert await link.connect() == ""
        answer = await link.read("read_holding_registers", 10, 1, 1, timeout=1.0, retries=2)
    finally:
        link.close()
        await server.shutdown()
    assert answer.registers == [holding(1, 1)]
    assert server.order[:3] == [1, 1, 1]  # the failed read, the resync read, the read


@pytest.mark.parametrize("retries", [0, 1])
async def test_a_late_exception_is_never_the_next_reads(serial_line, retries):
    """The read at 500 (no such register) gets its exception 2 after its timeout and the
    drain window; the next read of the same unit and function never returns it (a merged
    read would be split for good on it): no answer, or its own values."""
    gateway_end, device_end = serial_line
    bank = bank_of(1)

    async def slow_get(device_id, func_code, address, count=1):
        if address == 500:
            await asyncio.sleep(0.35)
        return await RegisterBank.async_getValues(bank, device_id, func_code, address, count)

    bank.async_getValues = slow_get  # type: ignore[method-assign]
    server = await serve_serial(bank, device_end)
    link = BusLink(on_line(gateway_end), timeout=0.2, name="t", on_closed=lambda: None)
    got = []
    try:
        assert await link.connect() == ""
        with pytest.raises(NoAnswer):
            await link.read("read_holding_registers", 500, 1, 1, timeout=0.2)
        with contextlib.suppress(NoAnswer):
            got.append(await link.read("read_holding_registers", 10, 1, 1, retries=retries))
        answer = await link.read("read_holding_registers", 20, 1, 1, timeout=1.0, retries=2)
    finally:
        link.close()
        await server.shutdown()
    assert not [r for r in got if r.isError()]
    assert [r.registers for r in got] in ([], [[holding(1, 1)]])
    assert answer.registers == [holding(1, 2)]
