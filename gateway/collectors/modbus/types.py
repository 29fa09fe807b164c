"""Modbus vocabulary shared by the tag-map models, the planner, the codec and the simulators."""

from __future__ import annotations

import enum


class Space(enum.StrEnum):
    """A Modbus register space, named as in tag maps."""

    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"
    INPUT_REGISTER = "input_register"
    HOLDING_REGISTER = "holding_register"

    @property
    def function(self) -> int:
        """The read function code for this space."""
        return _FUNCTION[self]

    @property
    def is_bit(self) -> bool:
        """True for coils and discrete inputs (one bit per address)."""
        return self in _BIT_SPACES  # a set of strings: no member lookups (read per response)


_BIT_SPACES = frozenset({"coil", "discrete_input"})


_FUNCTION = {
    Space.COIL: 1,
    Space.DISCRETE_INPUT: 2,
    Space.HOLDING_REGISTER: 3,
    Space.INPUT_REGISTER: 4,
}


class DataType(enum.StrEnum):
    """How a tag's registers are decoded."""

    BOOL = "bool"  # one coil or discrete input
    BIT = "bit"  # bit N (0 = least significant) of one register
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"  # `length` registers, two characters per register

    @property
    def is_numeric(self) -> bool:
        """True for the types that can be scaled and deadbanded."""
        return self not in (DataType.BOOL, DataType.BIT, DataType.STRING)


#: registers used by each fixed-width register type
REGISTER_WIDTH = {
    DataType.BIT: 1,
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.FLOAT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT64: 4,
}


class ByteOrder(enum.StrEnum):
    """Byte and word order of multi-byte values; A is the most significant byte.

    ABCD: big-endian words, most significant word first (Modbus standard).
    CDAB: big-endian words, least significant word first ("word swap").
    BADC: bytes swapped inside each word, most significant word first ("byte swap").
    DCBA: fully little-endian.
    """

    ABCD = "ABCD"
    CDAB = "CDAB"
    BADC = "BADC"
    DCBA = "DCBA"

    @property
    def swap_bytes(self) -> bool:
        """True when the two bytes inside each register are swapped."""
        return self in (ByteOrder.BADC, ByteOrder.DCBA)

    @property
    def swap_words(self) -> bool:
        """True when the least significant register comes first."""
        return self in (ByteOrder.CDAB, ByteOrder.DCBA)


def register_count(dtype: DataType, length: int | None = None) -> int:
    """How many registers (or bits, for BOOL) a value of this type occupies."""
    if dtype is DataType.BOOL:
        return 1
    if dtype is DataType.STRING:
        if not length or length < 1:
            raise ValueError("a string needs a length of at least one register")
        return length
    return REGISTER_WIDTH[dtype]
