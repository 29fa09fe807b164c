"""Convert between Modbus register values and tag values (pure, no I/O).

`decode` turns the 16-bit registers read for one tag into its value; `encode` is the exact
inverse, used by the PLC simulators to write registers. Both apply the tag's byte and word
order (see `ByteOrder`). The codec runs once per tag per scan, so the `struct.Struct` objects
are compiled at import time and each call does one table lookup plus one pack and one unpack.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from gateway.collectors.modbus.types import REGISTER_WIDTH, ByteOrder, DataType, register_count

__all__ = ["DecodeError", "InvalidText", "decode", "encode"]


class DecodeError(ValueError):
    """Registers that cannot be decoded as the tag's type."""


class InvalidText(DecodeError):
    """String registers with bytes that are invalid in the tag's encoding; `text` is the string
    decoded with each invalid byte sequence replaced by U+FFFD."""

    def __init__(self, encoding: str, why: str, text: str) -> None:
        super().__init__(f"string registers are not valid {encoding.upper()}: {why}")
        self.why = why
        self.text = text


class _Layout(NamedTuple):
    """How one fixed-width type is laid out in registers for one byte order."""

    width: int  # registers
    words: struct.Struct  # registers <-> bytes A.., with bytes swapped inside each word if needed
    value: struct.Struct  # bytes A.. (big-endian) <-> value
    swap_words: bool  # least significant register first


_VALUE_FORMAT = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.INT64: ">q",
    DataType.UINT64: ">Q",
    DataType.FLOAT32: ">f",
    DataType.FLOAT64: ">d",
}


def _layout(dtype: DataType, order: ByteOrder) -> _Layout:
    width = REGISTER_WIDTH[dtype]
    # Packing a register little-endian puts its low byte first: that is the byte swap.
    words = struct.Struct(("<" if order.swap_bytes else ">") + "H" * width)
    return _Layout(width, words, struct.Struct(_VALUE_FORMAT[dtype]), order.swap_words)


_LAYOUTS = {(dtype, order): _layout(dtype, order) for dtype in _VALUE_FORMAT for order in ByteOrder}


def decode(
    registers: Sequence[int],
    dtype: DataType,
    order: ByteOrder = ByteOrder.ABCD,
    *,
    bit: int | None = None,
    encoding: str = "utf-8",
) -> int | float | bool | str:
    """Decode the registers of one tag; NaN and infinities are returned as they are.

    A string ends at its first NUL and loses its trailing spaces (PLCs pad with either); its
    bytes are decoded with `encoding` (raises InvalidText for bytes invalid in it)."""
    layout = _LAYOUTS.get((dtype, order))
    if layout is not None:
        if len(registers) != layout.width:
            raise DecodeError(_count_message(dtype, layout.width, len(registers)))
        words = registers[::-1] if layout.swap_words else registers
        try:
            raw = layout.words.pack(*words)
        except struct.error:
            raise DecodeError(f"registers must be integers 0..65535, got {registers!r}") from None
        return layout.value.unpack(raw)[0]
    if dtype is DataType.BIT:
        return _decode_bit(registers, order, bit)
    if dtype is DataType.STRING:
        return _decode_string(registers, order, encoding)
    raise DecodeError(f"{dtype.value} values are not decoded from registers")


def encode(
    value: int | float | bool | str,
    dtype: DataType,
    order: ByteOrder = ByteOrder.ABCD,
    *,
    length: int | None = None,
    bit: int | None = None,
    current: int = 0,
    encoding: str = "utf-8",
) -> list[int]:
    """Encode one tag value as registers (the inverse of `decode`).

    For BIT, `current` is the register as it is now and only bit `bit` changes; for STRING,
    `length` is the number of registers. Values that do not fit raise ValueError.
    """
    layout = _LAYOUTS.get((dtype, order))
    if layout is not None:
        try:
            words = list(layout.words.unpack(layout.value.pack(value)))
        except (struct.error, OverflowError) as exc:  # out of range, or not a number of that kind
            raise ValueError(f"cannot encode {value!r} as {dtype.value}: {exc}") from None
        if layout.swap_words:
            words.reverse()
        return words
    if dtype is DataType.BIT:
        return [_encode_bit(value, order, bit, current)]
    if dtype is DataType.STRING:
        return _encode_string(value, order, length, encoding)
    raise ValueError(f"{dtype.value} values are not encoded as registers")


def _count_message(dtype: DataType, expected: int, got: int) -> str:
    return f"{dtype.value} needs {expected} register(s), got {got}"


def _bit_shift(order: ByteOrder, bit: int | None) -> int:
    """The position of logical bit `bit` in the register as read (swapping bytes moves it by 8)."""
    if not isinstance(bit, int) or not 0 <= bit <= 15:
        raise ValueError(f"bit must be 0..15, got {bit!r}")
    return bit ^ 8 if order.swap_bytes else bit


def _check_register(register: int) -> None:
    if not isinstance(register, int) or not 0 <= register <= 0xFFFF:
        raise ValueError(f"a register must be an integer 0..65535, got {register!r}")


def _decode_bit(registers: Sequence[int], order: ByteOrder, bit: int | None) -> bool:
    if len(registers) != 1:
        raise DecodeError(_count_message(DataType.BIT, 1, len(registers)))
    try:
        _check_register(registers[0])
        shift = _bit_shift(order, bit)
    except ValueError as exc:
        raise DecodeError(str(exc)) from None
    return bool(registers[0] >> shift & 1)


def _encode_bit(value: object, order: ByteOrder, bit: int | None, current: int) -> int:
    if value not in (0, 1):
        raise ValueError(f"a bit must be True or False, got {value!r}")
    _check_register(current)
    mask = 1 << _bit_shift(order, bit)
    return current | mask if value else current & ~mask


@lru_cache(maxsize=64)
def _string_struct(length: int, swap_bytes: bool) -> struct.Struct:
    return struct.Struct(("<" if swap_bytes else ">") + "H" * length)


@lru_cache(maxsize=16)
def _nul_is_a_byte(encoding: str) -> bool:
    """True when NUL is the single byte 0 and no other character contains a 0 byte (ASCII
    supersets: UTF-8, GBK, Shift-JIS, Latin-1...): the text can be cut before decoding, so
    whatever follows the terminator is never decoded. Not so for UTF-16/32."""
    return "\0A".encode(encoding) == b"\0A"


def _text(raw: bytes, encoding: str, errors: str) -> str:
    if _nul_is_a_byte(encoding):
        end = raw.find(0)
        return (raw if end < 0 else raw[:end]).decode(encoding, errors).rstrip(" ")
    text = raw.decode(encoding, errors)
    end = text.find("\0")
    return (text if end < 0 else text[:end]).rstrip(" ")


def _decode_string(registers: Sequence[int], order: ByteOrder, encoding: str) -> str:
    if not registers:
        raise DecodeError("a string needs at least one register, got 0")
    try:
        raw = _string_struct(len(registers), order.swap_bytes).pack(*registers)
    except struct.error:
        raise DecodeError(f"registers must be integers 0..65535, got {registers!r}") from None
    try:
        return _text(raw, encoding, "strict")
    except UnicodeDecodeError as exc:
        raise InvalidText(encoding, exc.reason, _text(raw, encoding, "replace")) from None


def _encode_string(
    value: object, order: ByteOrder, length: int | None, encoding: str = "utf-8"
) -> list[int]:
    if not isinstance(value, str):
        raise ValueError(f"a string tag needs a str, got {value!r}")
    if "\0" in value:
        raise ValueError("a string value cannot contain NUL (NUL ends the string in registers)")
    count = register_count(DataType.STRING, length)
    raw = value.encode(encoding)
    if len(raw) > 2 * count:
        name = encoding.upper()
        raise ValueError(f"{value!r} is {len(raw)} {name} bytes, more than {count} registers hold")
    return list(_string_struct(count, order.swap_bytes).unpack(raw.ljust(2 * count, b"\0")))
