"""The simulator's RTU answers, frame in, frame out, over a plain register bank."""

from __future__ import annotations

import asyncio

from gateway.collectors.modbus.types import Space
from simulators.modbus_server import RegisterBank
from simulators.rtu_frames import crc_ok, with_crc
from simulators.rtu_responder import RtuResponder


def bank() -> RegisterBank:
    registers = RegisterBank()
    for unit in (1, 2):
        registers.unit(unit).set(Space.HOLDING_REGISTER, 0, [unit * 10, unit * 10 + 1])
    return registers


async def test_a_read_is_answered_with_the_units_registers() -> None:
    answer = await RtuResponder(bank()).answer(with_crc(bytes.fromhex("020300000002")))
    assert answer == with_crc(bytes.fromhex("020304") + bytes([0, 20, 0, 21]))


async def test_exceptions_unknown_units_and_unknown_functions() -> None:
    responder = RtuResponder(bank())
    illegal_address = await responder.answer(with_crc(bytes.fromhex("010300100001")))
    assert illegal_address == with_crc(bytes.fromhex("018302"))
    assert await responder.answer(with_crc(bytes.fromhex("090300000001"))) is None
    illegal_function = await responder.answer(with_crc(bytes.fromhex("0164")))
    assert illegal_function == with_crc(bytes.fromhex("01e401"))
    assert responder.stats.answered == 2


async def test_a_broadcast_write_reaches_every_unit_and_nobody_answers() -> None:
    registers = bank()
    responder = RtuResponder(registers)
    assert await responder.answer(with_crc(bytes.fromhex("000600010063"))) is None
    assert [registers.unit(u).get(Space.HOLDING_REGISTER, 1, 1) for u in (1, 2)] == [[99], [99]]
    assert await responder.answer(with_crc(bytes.fromhex("000300000001"))) is None  # a read
    assert responder.stats.answered == 0


async def test_corruption_is_seeded_and_counted() -> None:
    request = with_crc(bytes.fromhex("010300000002"))

    async def run(seed: int) -> list[bytes]:
        responder = RtuResponder(bank(), corrupt=0.5, seed=seed)
        answers = [await responder.answer(request) for _ in range(200)]
        bad = [a for a in answers if a is not None and not crc_ok(a)]
        assert len(bad) == responder.stats.corrupted
        assert 60 <= len(bad) <= 140
        return [a for a in answers if a is not None]

    assert await run(4) == await run(4)
    assert await run(4) != await run(5)


async def test_a_broadcast_ignores_silence_and_delay_but_not_an_exception_fault() -> None:
    registers = bank()
    registers.unit(1).faults.silent = True
    registers.unit(1).faults.delay = 600.0
    registers.unit(2).faults.exception = 6  # refuses every request, a broadcast too
    broadcast = RtuResponder(registers).answer(with_crc(bytes.fromhex("000600010063")))
    assert await asyncio.wait_for(broadcast, 10) is None
    assert [registers.unit(u).get(Space.HOLDING_REGISTER, 1, 1) for u in (1, 2)] == [[99], [21]]


async def test_a_request_to_a_silent_unit_is_dropped_at_once() -> None:
    registers = bank()
    registers.unit(2).faults.silent = True
    request = RtuResponder(registers).answer(with_crc(bytes.fromhex("020600000007")))
    assert await asyncio.wait_for(request, 10) is None
    assert registers.unit(2).get(Space.HOLDING_REGISTER, 0, 1) == [20]  # nothing written
