"""`gateway probe`'s tables (pure): the raw registers of a block, and at every start address
the value under every numeric type and byte order a tag map can name, decoded by the codec
the collector uses, each judged by `gateway.plausibility` (and the `--range` when given).

One register has no word order, so the 16-bit types are shown under two orders only:
ABCD (= CDAB) and BADC (= DCBA).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.collectors.modbus.codec import decode
from gateway.collectors.modbus.types import REGISTER_WIDTH, ByteOrder, DataType
from gateway.plausibility import implausible
from gateway.sinks.floats import float32_text

#: the types a tag map can decode registers as (not bit, string: they are not guessed)
NUMERIC = (
    DataType.INT16,
    DataType.UINT16,
    DataType.INT32,
    DataType.UINT32,
    DataType.FLOAT32,
    DataType.INT64,
    DataType.UINT64,
    DataType.FLOAT64,
)
ONE_WORD_ORDERS = (ByteOrder.ABCD, ByteOrder.BADC)
ONE_WORD_LABEL = {ByteOrder.ABCD: "ABCD/CDAB", ByteOrder.BADC: "BADC/DCBA"}


@dataclass(frozen=True, slots=True)
class Decoding:
    """The registers at `address` decoded as `dtype` in `order`, and what to make of it."""

    address: int
    dtype: DataType
    order: ByteOrder
    value: int | float
    why_not: str  # why it cannot be right ("" when it may be)
    in_range: bool  # inside --range (False without one)


def parse_range(text: str) -> tuple[float, float]:
    """`LO:HI` (e.g. `0:5000`, `-40:1.5e3`) as numbers, LO <= HI; ValueError saying why not."""
    low, colon, high = text.partition(":")
    try:
        limits = (float(low), float(high))
    except ValueError:
        raise ValueError(f"--range {text!r}: expected LO:HI, e.g. 0:5000") from None
    if not colon or limits[0] > limits[1] or any(x != x for x in limits):
        raise ValueError(f"--range {text!r}: expected LO:HI with LO <= HI, e.g. 0:5000")
    return limits


def orders_of(dtype: DataType) -> tuple[ByteOrder, ...]:
    return ONE_WORD_ORDERS if REGISTER_WIDTH[dtype] == 1 else tuple(ByteOrder)


def decodings(
    start: int,
    registers: Sequence[int],
    limits: tuple[float, float] | None = None,
    types: Sequence[DataType] = NUMERIC,
) -> list[Decoding]:
    """Every type and order of `types` at every start address whose registers were read."""
    out = []
    for offset in range(len(registers)):
        for dtype in types:
            width = REGISTER_WIDTH[dtype]
            if offset + width > len(registers):
                continue
            words = registers[offset : offset + width]
            for order in orders_of(dtype):
                value = decode(words, dtype, order)
                assert isinstance(value, int | float)  # numeric types only
                why_not = implausible(value, limits)
                inside = limits is not None and not why_not
                out.append(Decoding(start + offset, dtype, order, value, why_not, inside))
    return out


def value_text(value: int | float, dtype: DataType) -> str:
    """As `gateway once` would write it: a float32 with the fewest digits that read back."""
    if isinstance(value, float) and dtype is DataType.FLOAT32 and math.isfinite(value):
        return float32_text(value)
    return repr(value)


def order_label(decoding: Decoding) -> str:
    if REGISTER_WIDTH[decoding.dtype] == 1:
        return ONE_WORD_LABEL[decoding.order]
    return decoding.order.value


def register_lines(start: int, values: Sequence[int | bool], bits: bool) -> list[str]:
    """The raw values, one address a line: hex and decimal for registers, 0/1 for bits."""
    if bits:
        return ["address  value"] + [f"{start + i:>7}  {int(v)}" for i, v in enumerate(values)]
    lines = ["address  hex     decimal"]
    lines += [f"{start + i:>7}  0x{v:04X}  {v:>7}" for i, v in enumerate(values)]
    return lines


def verdict(decoding: Decoding) -> str:
    if decoding.why_not:
        return f"implausible ({decoding.why_not})"
    return "plausible: in range" if decoding.in_range else ""


def decoding_lines(found: Sequence[Decoding]) -> list[str]:
    """The table of decodings, a block per start address."""
    lines: list[str] = []
    address = None
    for d in found:
        if d.address != address:
            address = d.address
            lines += ["", f"at address {address}:", "  type     order      value"]
        text = value_text(d.value, d.dtype)
        lines.append(
            f"  {d.dtype.value:<7}  {order_label(d):<9}  {text:<24}  {verdict(d)}".rstrip()
        )
    return lines
