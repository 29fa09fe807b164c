"""`gateway probe`'s decoding table: every type and order at every start address, judged.

The registers are written out by hand (not encoded by the codec under test)."""

from __future__ import annotations

import pytest

from gateway.collectors.modbus.probe import (
    decoding_lines,
    decodings,
    parse_range,
    register_lines,
)
from gateway.collectors.modbus.types import ByteOrder, DataType

# flow = 1234.5 (float32 0x449A5000) at 100..101 in CDAB order, then 235 at 102
BLOCK = [0x0000, 0x5000, 0x449A, 0x00EB]
START = 99
FLOW = (0.0, 5000.0)


def test_the_right_order_is_the_one_plausible_float_at_its_address():
    found = decodings(START, BLOCK, FLOW)
    floats = {d.order: d for d in found if d.address == 100 and d.dtype is DataType.FLOAT32}
    assert floats[ByteOrder.CDAB].value == 1234.5
    assert floats[ByteOrder.CDAB].in_range
    assert [o for o, d in floats.items() if d.in_range] == [ByteOrder.CDAB]
    assert floats[ByteOrder.ABCD].value == 8607918080.0  # the wrong byte order
    assert floats[ByteOrder.ABCD].why_not == "outside 0..5000"
    assert floats[ByteOrder.BADC].why_not == "|x| < 1e-15"


def test_one_address_off_is_implausible_even_without_a_range():
    late = [d for d in decodings(START, BLOCK) if d.address == 101]
    cdab = next(d for d in late if d.dtype is DataType.FLOAT32 and d.order is ByteOrder.CDAB)
    assert f"{cdab.value:.3g}" == "2.16e-38"  # the flow=2.16e-38
    assert cdab.why_not == "|x| < 1e-15"
    assert not cdab.in_range


def test_every_type_fits_inside_the_block_and_16_bits_have_two_orders():
    found = decodings(START, BLOCK)
    count = {(d.address, d.dtype): 0 for d in found}
    for d in found:
        count[d.address, d.dtype] += 1
    assert count[99, DataType.INT16] == 2  # ABCD/CDAB and BADC/DCBA
    assert count[99, DataType.FLOAT64] == 4
    assert (100, DataType.FLOAT64) not in count  # would need 103 too: not read
    assert (101, DataType.INT32) in count
    assert (102, DataType.INT32) not in count
    assert {d.address for d in found} == {99, 100, 101, 102}
    swapped = next(
        d
        for d in found
        if d.address == 102 and d.dtype is DataType.UINT16 and d.order is ByteOrder.BADC
    )
    assert swapped.value == 0xEB00


def test_table_lines_show_registers_and_verdicts():
    assert register_lines(START, BLOCK, bits=False)[1:3] == [
        "     99  0x0000        0",
        "    100  0x5000    20480",
    ]
    assert register_lines(7, [True, False], bits=True) == [
        "address  value",
        "      7  1",
        "      8  0",
    ]
    found = decodings(START, BLOCK, FLOW)
    lines = decoding_lines(found)
    assert "  float32  CDAB       1234.5                    plausible: in range" in lines
    assert "  float32  ABCD       8.607918e+09              implausible (outside 0..5000)" in lines
    assert "  uint16   ABCD/CDAB  235                       plausible: in range" in lines


@pytest.mark.parametrize("text", ["5000", "a:b", "9:1", "nan:1", ""])
def test_a_bad_range_says_how_to_write_one(text):
    with pytest.raises(ValueError, match="expected LO:HI"):
        parse_range(text)


def test_a_range_may_be_negative_and_in_exponent_form():
    assert parse_range("-40:1.5e3") == (-40.0, 1500.0)
