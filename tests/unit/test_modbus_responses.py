"""The link's read responses decode exactly as pymodbus's own, with one unpack, and keep the
raw registers for the fast path."""

from __future__ import annotations

import random
import struct

import pytest
from pymodbus.pdu import DecodePDU

from gateway.collectors.modbus.responses import RESPONSES, raw_registers


def decoders() -> tuple[DecodePDU, DecodePDU]:
    ours = DecodePDU(False)
    for response in RESPONSES:
        ours.register(response)
    return DecodePDU(False), ours


@pytest.mark.parametrize("function", [3, 4])
def test_register_responses_decode_as_pymodbus(function: int) -> None:
    theirs, ours = decoders()
    rng = random.Random(function)
    for count in [1, 2, 7, 125]:
        registers = [rng.getrandbits(16) for _ in range(count)]
        frame = bytes([function, 2 * count]) + struct.pack(f">{count}H", *registers)
        mine, reference = ours.decode(frame), theirs.decode(frame)
        assert type(mine).__name__ == type(reference).__name__
        assert isinstance(mine, type(reference))
        assert mine.registers == reference.registers == registers
        assert raw_registers(mine) == frame[2:]
        assert raw_registers(reference) == b""


def test_bad_frames_are_refused_as_pymodbus_refuses_them() -> None:
    theirs, ours = decoders()
    too_short = bytes([3, 10, 0, 1])
    assert ours.decode(too_short) is None
    assert theirs.decode(too_short) is None
    odd = bytes([3, 3, 0, 1, 2, 9])
    assert ours.decode(odd).registers == theirs.decode(odd).registers


def test_coil_responses_are_pymodbus_s_own_but_quiet() -> None:
    theirs, ours = decoders()
    frame = bytes([1, 1, 0b101])
    assert ours.decode(frame).bits == theirs.decode(frame).bits
    assert str(ours.decode(frame)) == "ReadCoilsResponse"
