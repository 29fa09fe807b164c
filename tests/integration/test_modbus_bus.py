"""The bus collector against pymodbus's own RTU/ASCII servers on a socat pty pair, and an RTU
server over TCP on 127.0.0.1: reads, connect errors, late answers, spoiled frames."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import pytest
import serial
from pymodbus.framer import FramerType

from gateway.collectors.base import State
from gateway.collectors.modbus.bus import NOT_ANSWERED, ModbusBus
from gateway.collectors.modbus.buslink import BusLink, NoAnswer
from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.types import Space
from gateway.model import Quality, Sample
from simulators.modbus_server import RegisterBank
from tests.busplan import BLOCKS, bus_plan, device, holding, on_line
from tests.busserver import serve_rtu_tcp, serve_serial
from tests.corruptrelay import CorruptingRelay
from tests.serialpair import pty_pair

pytestmark = pytest.mark.integration


def bank_of(*units: int, blocks: int = BLOCKS) -> RegisterBank:
    bank = RegisterBank()
    for u in units:
        for i in range(blocks):
            bank.unit(u).set(Space.HOLDING_REGISTER, 10 * i, [holding(u, i)])
    return bank


def values(samples: list[Sample]) -> dict[tuple[str, str], object]:
    return {(s.point.device, s.point.tag): s.value for s in samples}


def expected(*units: int) -> dict[tuple[str, str], object]:
    return {(f"u{u}", f"r{i}"): holding(u, i) for u in units for i in range(BLOCKS)}


async def discard(_: object) -> None:
    return None


@pytest.mark.parametrize(
    ("scheme", "framer"), [("modbus+rtu", FramerType.RTU), ("modbus+ascii", FramerType.ASCII)]
)
async def test_every_unit_on_a_serial_line_is_read(serial_line, scheme, framer):
    gateway_end, device_end = serial_line
    server = await serve_serial(bank_of(1, 2, 3), device_end, framer)
    bus = ModbusBus(
        bus_plan(on_line(gateway_end, scheme), [device(1), device(2), device(3)]), discard
    )
    try:
        samples = await bus.scan_all()
    finally:
        bus.close()
        await server.shutdown()
    assert all(s.quality is Quality.GOOD for s in samples), [s.reason for s in samples]
    assert values(samples) == expected(1, 2, 3)


async def test_rtu_over_tcp_is_read_and_a_closed_port_is_described():
    server, port = await serve_rtu_tcp(bank_of(4, 5))
    plan = bus_plan(Endpoint("modbus+rtu-tcp", "127.0.0.1", port), [device(4), device(5)])
    bus = ModbusBus(plan, discard)
    try:
        samples = await bus.scan_all()
    finally:
        bus.close()
        await server.shutdown()
    assert values(samples) == expected(4, 5)
    assert all(s.quality is Quality.GOOD for s in samples)
    bus = ModbusBus(plan, discard)  # nothing listens any more
    samples = await bus.scan_all()
    bus.close()
    assert {s.reason for s in samples} == {
        f"not connected: connection refused by 127.0.0.1:{port} (nothing listens on that port)"
    }


async def test_a_serial_port_that_cannot_be_opened_says_why(tmp_path: Path, serial_line):
    gateway_end, _ = serial_line
    regular = tmp_path / "not-a-tty"
    regular.write_bytes(b"")
    cases = {
        str(tmp_path / "ttyUSB9"): f"serial port {tmp_path / 'ttyUSB9'} does not exist",
        str(regular): f"{regular} is not a serial port (not a tty)",
        str(tmp_path): f"{tmp_path} is a directory, not a serial port",
        gateway_end: f"serial port {gateway_end} is busy (locked or opened by another program)",
    }
    with serial.Serial(gateway_end, exclusive=True):  # another program holds the line
        for path, reason in cases.items():
            bus = ModbusBus(bus_plan(on_line(path), [device(1)]), discard)
            samples = await bus.scan_all()
            bus.close()
            assert {s.reason for s in samples} == {f"not connected: {reason}"}
            assert bus.stats.connected is False
            assert bus.stats.connect_failures == 1


async def test_parity_on_a_pty_says_to_use_parity_n(serial_line):
    gateway_end, _ = serial_line
    line = Endpoint("modbus+rtu", "", 0, gateway_end, baudrate=19200, parity="E")
    bus = ModbusBus(bus_plan(line, [device(1)]), discard)
    samples = await bus.scan_all()
    bus.close()
    assert {s.reason for s in samples} == {
        f"not connected: serial port {gateway_end} refused the line settings 19200 8E1 "
        "(a pty takes no parity: use parity=N)"
    }


async def test_a_late_answer_is_never_taken_for_the_next_requests(serial_line):
    """Unit 1 answers the read at 0 after its timeout; the next read is of the same unit,
    function and count at 10: it gets the values at 10, not the late answer."""
    gateway_end, device_end = serial_line
    bank = bank_of(1)

    late = asyncio.Event()

    async def slow_get(device_id, func_code, address, count=1):
        if address == 0:
            await asyncio.sleep(0.5)  # after the timeout and the frames' 0.125 s on the wire
            late.set()
        return await RegisterBank.async_getValues(bank, device_id, func_code, address, count)

    bank.async_getValues = slow_get  # type: ignore[method-assign]
    server = await serve_serial(bank, device_end)
    # 1200 baud: a drain window (64 characters) of 0.59 s, well past the late answer
    link = BusLink(
        on_line(gateway_end, baudrate=1200), timeout=0.2, name="t", on_closed=lambda: None
    )
    try:
        assert await link.connect() == ""
        with pytest.raises(NoAnswer) as failed:
            await link.read("read_holding_registers", 0, 1, 1, timeout=0.2)
        assert failed.value.reason == "no response within 0.2s"
        answer = await link.read("read_holding_registers", 10, 1, 1, timeout=0.2)
        assert late.is_set()
        assert answer.registers == [holding(1, 1)]
        answer = await link.read("read_holding_registers", 20, 1, 1, timeout=0.2)
        assert answer.registers == [holding(1, 2)]
    finally:
        link.close()
        await server.shutdown()
    assert server.order == [1, 1, 1, 1]  # the failed read, a resync read, the two reads


async def test_spoiled_frames_are_retried_then_bad_and_never_a_wrong_value(tmp_path: Path):
    with (
        pty_pair(tmp_path, "gw") as (gateway_end, relay_a),
        pty_pair(tmp_path, "dev") as (
            relay_b,
            device_end,
        ),
    ):
        relay = CorruptingRelay(relay_a, relay_b, fraction=0.3)
        relay.start()
        server = await serve_serial(bank_of(1, 2), device_end)
        plan = bus_plan(on_line(gateway_end), [device(1), device(2)], timeout=0.2, retries=1)
        bus = ModbusBus(plan, discard)
        samples: list[Sample] = []
        try:
            for _ in range(40):
                samples += await bus.scan_all()
        finally:
            bus.close()
            await server.shutdown()
            relay.stop()
    truth = expected(1, 2)
    good = [s for s in samples if s.quality is Quality.GOOD]
    bad = [s for s in samples if s.quality is Quality.BAD]
    assert all(truth[s.point.device, s.point.tag] == s.value for s in good)
    assert set(relay.spoiled) == set(CorruptingRelay.MODES)
    assert len(good) > len(samples) * 0.6  # the retries win most spoiled answers back
    reasons = {s.reason.split(" (")[0] for s in bad}
    assert reasons <= {
        "CRC error in the answer",
        "truncated answer",
        "garbled answer",
        NOT_ANSWERED,
    }
    assert reasons & {"CRC error in the answer", "truncated answer", "garbled answer"}
    assert bus.stats.connect_failures == 0  # a spoiled frame is the device's, not the link's


async def test_a_unit_whose_answers_are_spoiled_is_answering_not_silent(tmp_path: Path):
    # a CRC error is line noise on an answer that came: the rest of the scan is still read
    # (its answers may pass) and the unit is not demoted as if it were silent
    with (
        pty_pair(tmp_path, "gw") as (gateway_end, relay_a),
        pty_pair(tmp_path, "dev") as (relay_b, device_end),
    ):
        relay = CorruptingRelay(relay_a, relay_b, fraction=1.0)
        relay.MODES = ("flip",)
        relay.start()
        server = await serve_serial(bank_of(1), device_end)
        # a generous timeout: the relay's threads may pass an answer late on a loaded
        # machine, and a missing answer is not what is tested here
        plan = bus_plan(on_line(gateway_end), [device(1, demote_after=2)], timeout=2.0)
        bus = ModbusBus(plan, discard)
        samples: list[Sample] = []
        try:
            for _ in range(4):
                samples += (await bus.scan_batch(plan.scans[0])).readings()
        finally:
            bus.close()
            await server.shutdown()
            relay.stop()
    assert server.requests[1] == 4 * BLOCKS  # every request of every scan was sent
    assert {s.reason for s in samples} == {"CRC error in the answer"}
    assert bus.devices["u1"].state is State.UP
    assert bus.devices["u1"].skipped_scans == 0


async def test_a_line_that_goes_silent_recovers_by_itself(tmp_path: Path):
    with (
        pty_pair(tmp_path, "gw") as (gateway_end, relay_a),
        pty_pair(tmp_path, "dev") as (
            relay_b,
            device_end,
        ),
    ):
        relay = CorruptingRelay(relay_a, relay_b, fraction=0.0)
        relay.start()
        server = await serve_serial(bank_of(1), device_end)
        batches = []

        async def emit(batch):
            batches.append((relay.mute, batch.readings()))

        plan = bus_plan(on_line(gateway_end), [device(1, scan_rate=0.1)], timeout=0.1)
        bus = ModbusBus(plan, emit, backoff=(0.1, 0.2))
        task = asyncio.create_task(bus.run())
        try:
            await until(lambda: len(batches) >= 3)
            relay.mute = True
            await until(lambda: bus.stats.connect_failures >= 1 and len(batches) >= 10)
            relay.mute = False
            await until(lambda: batches[-1][1][0].quality is Quality.GOOD, 20)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await server.shutdown()
            relay.stop()
    silent = [s for muted, readings in batches if muted for s in readings]
    assert {s.reason for s in silent} & {"no response within 0.1s"}
    assert values(batches[-1][1]) == {("u1", "r0"): 1000, ("u1", "r1"): 1001, ("u1", "r2"): 1002}


async def until(condition, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_an_unplugged_line_is_down_and_is_read_again_once_plugged_back(tmp_path: Path):
    batches: list[list[Sample]] = []

    async def emit(batch):
        batches.append(batch.readings())

    path = str(tmp_path / "line-a")  # the gateway end of pty_pair(tmp_path)
    plan = bus_plan(on_line(path), [device(1, scan_rate=0.1)], timeout=0.2)
    bus = ModbusBus(plan, emit, backoff=(0.1, 0.2))
    task = asyncio.create_task(bus.run())
    try:
        with pty_pair(tmp_path) as (_, device_end):
            server = await serve_serial(bank_of(1), device_end)
            await until(lambda: batches and batches[-1][0].quality is Quality.GOOD)
            await server.shutdown()
        unplugged = len(batches)  # socat is gone: so are both ptys and their links
        await until(lambda: any("does not exist" in s.reason for s in batches[-1]))
        assert not bus.stats.connected
        with pty_pair(tmp_path) as (_, device_end):  # plugged back, at the same path
            server = await serve_serial(bank_of(1), device_end)
            await until(lambda: batches[-1][0].quality is Quality.GOOD)
            await server.shutdown()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    reasons = {s.reason for b in batches[unplugged:] for s in b if s.quality is Quality.BAD}
    assert f"not connected: serial port {path} went away (adapter unplugged?)" in reasons
    assert f"not connected: serial port {path} does not exist" in reasons
    assert values(batches[-1]) == expected(1)


async def test_the_silence_and_each_devices_pause_are_kept_between_frames(serial_line):
    """Lower bounds only (a sleep never ends early): 1200 baud keeps 3.5 characters (32 ms)
    after every answer, unit 1 asks 0.15 s more after each of its exchanges."""
    gateway_end, device_end = serial_line
    server = await serve_serial(bank_of(1, 2), device_end)
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[int, float]] = []

    class Timed(list):  # the server's list of requests, timed as they arrive
        def append(self, unit: int) -> None:
            arrivals.append((unit, loop.time()))
            super().append(unit)

    server.order = Timed()
    timing = {"u1": (0.3, 0, 0.15), "u2": (0.3, 0, 0.0)}
    plan = bus_plan(on_line(gateway_end, baudrate=1200), [device(1), device(2)], timing=timing)
    bus = ModbusBus(plan, discard)
    try:
        await bus.scan_all()
    finally:
        bus.close()
        await server.shutdown()
    assert [u for u, _ in arrivals] == [1, 1, 1, 2, 2, 2]
    gaps = [(a[0], b[1] - a[1]) for a, b in itertools.pairwise(arrivals)]
    silence = 3.5 * 10 / 1200  # parity N: 10 bits a character
    assert all(gap >= 0.15 for unit, gap in gaps if unit == 1)
    assert all(gap >= silence for unit, gap in gaps if unit == 2)


async def test_a_late_answer_of_another_size_is_refused_and_the_read_tried_again(serial_line):
    """The late answer (2 registers) arrives while the next read (1 register) waits: it is
    no answer to that read, which is tried again after the line is quiet."""
    gateway_end, device_end = serial_line
    bank = bank_of(1)

    async def slow_get(device_id, func_code, address, count=1):
        if address == 0:
            await asyncio.sleep(0.35)  # past the timeout and the 50 ms drain window
        return await RegisterBank.async_getValues(bank, device_id, func_code, address, count)

    bank.async_getValues = slow_get  # type: ignore[method-assign]
    bank.unit(1).set(Space.HOLDING_REGISTER, 1, [7])
    server = await serve_serial(bank, device_end)
    link = BusLink(
        on_line(gateway_end, baudrate=115200), timeout=0.2, name="t", on_closed=lambda: None
    )
    try:
        assert await link.connect() == ""
        with pytest.raises(NoAnswer):
            await link.read("read_holding_registers", 0, 2, 1, timeout=0.2)
        answer = await link.read("read_holding_registers", 10, 1, 1, timeout=0.5, retries=1)
        assert answer.registers == [holding(1, 1)]
    finally:
        link.close()
        await server.shutdown()


async def test_rtu_over_tcp_closed_by_the_server_is_down_then_read_again():
    bank = bank_of(4)
    server, port = await serve_rtu_tcp(bank)
    batches: list[list[Sample]] = []

    async def emit(batch):
        batches.append(batch.readings())

    plan = bus_plan(Endpoint("modbus+rtu-tcp", "127.0.0.1", port), [device(4, scan_rate=0.1)])
    bus = ModbusBus(plan, emit, backoff=(0.1, 0.2))
    task = asyncio.create_task(bus.run())
    try:
        await until(lambda: batches and batches[-1][0].quality is Quality.GOOD)
        await server.shutdown()  # closes the connection
        await until(lambda: not bus.stats.connected and batches[-1][0].quality is Quality.BAD)
        seen = len(batches)
        server, _ = await serve_rtu_tcp(bank, port)
        await until(lambda: len(batches) > seen and batches[-1][0].quality is Quality.GOOD)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.shutdown()
    reasons = {s.reason for b in batches for s in b if s.quality is Quality.BAD}
    assert reasons & {
        "connection closed by the peer",
        "not connected: connection closed by the peer",
    }
    assert values(batches[-1]) == expected(4)
