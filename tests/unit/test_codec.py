"""Golden vectors for the Modbus codec, derived by hand (never by calling `encode`).

The simulators write registers with `encode` and the gateway reads them with `decode`, so a
bug shared by both would pass any round-trip test. Every expected register list below is a
literal worked out from the value's bytes A B C D ... (A = most significant):

    32-bit  ABCD [AB, CD]          CDAB [CD, AB]          BADC [BA, DC]          DCBA [DC, BA]
    64-bit  ABCD [AB, CD, EF, GH]  CDAB [GH, EF, CD, AB]
            BADC [BA, DC, FE, HG]  DCBA [HG, FE, DC, BA]
    16-bit  ABCD, CDAB [AB]        BADC, DCBA [BA]
    string  bytes in order, two per register, high byte first (ABCD/CDAB) or low byte first
            (BADC/DCBA); word order never applies; padded with NUL.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from gateway.collectors.modbus.codec import DecodeError, InvalidText, decode, encode
from gateway.collectors.modbus.types import ByteOrder, DataType

ABCD, CDAB, BADC, DCBA = ByteOrder.ABCD, ByteOrder.CDAB, ByteOrder.BADC, ByteOrder.DCBA
ORDERS = (ABCD, CDAB, BADC, DCBA)


def _four(dtype: DataType, value: Any, *per_order: list[int]) -> list[Any]:
    """One vector per byte order; `per_order` is given as ABCD, CDAB, BADC, DCBA."""
    assert len(per_order) == 4
    return [
        pytest.param(dtype, order, value, regs, id=f"{dtype.value}-{value!r}-{order.value}")
        for order, regs in zip(ORDERS, per_order, strict=True)
    ]


I16, U16, I32, U32 = DataType.INT16, DataType.UINT16, DataType.INT32, DataType.UINT32
I64, U64, F32, F64 = DataType.INT64, DataType.UINT64, DataType.FLOAT32, DataType.FLOAT64
STR = DataType.STRING

VECTORS = [
    # --- int16: one register; only the byte swap applies ---
    # -2 = 0x10000 - 2 = 0xFFFE -> swapped 0xFEFF
    *_four(I16, -2, [0xFFFE], [0xFFFE], [0xFEFF], [0xFEFF]),
    # 4660 = 0x1234 -> swapped 0x3412
    *_four(I16, 4660, [0x1234], [0x1234], [0x3412], [0x3412]),
    # int16 min -32768 = 0x8000 -> swapped 0x0080
    *_four(I16, -32768, [0x8000], [0x8000], [0x0080], [0x0080]),
    # int16 max 32767 = 0x7FFF -> swapped 0xFF7F
    *_four(I16, 32767, [0x7FFF], [0x7FFF], [0xFF7F], [0xFF7F]),
    # --- uint16 ---
    # 43981 = 0xABCD -> swapped 0xCDAB
    *_four(U16, 43981, [0xABCD], [0xABCD], [0xCDAB], [0xCDAB]),
    # 1 = 0x0001 -> swapped 0x0100
    *_four(U16, 1, [0x0001], [0x0001], [0x0100], [0x0100]),
    # uint16 max 65535 = 0xFFFF (symmetric)
    *_four(U16, 65535, [0xFFFF], [0xFFFF], [0xFFFF], [0xFFFF]),
    # --- int32 ---
    # 123456 = 0x0001E240; -123456 = 0x100000000 - 0x1E240 = 0xFFFE1DC0: A=FF B=FE C=1D D=C0
    *_four(I32, -123456, [0xFFFE, 0x1DC0], [0x1DC0, 0xFFFE], [0xFEFF, 0xC01D], [0xC01D, 0xFEFF]),
    # 305419896 = 0x12345678: A=12 B=34 C=56 D=78
    *_four(I32, 305419896, [0x1234, 0x5678], [0x5678, 0x1234], [0x3412, 0x7856], [0x7856, 0x3412]),
    # int32 min -2147483648 = 0x80000000
    *_four(I32, -(2**31), [0x8000, 0x0000], [0x0000, 0x8000], [0x0080, 0x0000], [0x0000, 0x0080]),
    # --- uint32 ---
    # 3735928559 = 0xDEADBEEF: A=DE B=AD C=BE D=EF
    *_four(U32, 3735928559, [0xDEAD, 0xBEEF], [0xBEEF, 0xDEAD], [0xADDE, 0xEFBE], [0xEFBE, 0xADDE]),
    # 70000 = 65536 + 4464 = 0x00011170: A=00 B=01 C=11 D=70
    *_four(U32, 70000, [0x0001, 0x1170], [0x1170, 0x0001], [0x0100, 0x7011], [0x7011, 0x0100]),
    # uint32 max 4294967295 = 0xFFFFFFFF (symmetric)
    *_four(U32, 2**32 - 1, *[[0xFFFF, 0xFFFF]] * 4),
    # --- int64 ---
    # 0x0102030405060708: A..H = 01 02 03 04 05 06 07 08
    *_four(
        I64,
        0x0102030405060708,
        [0x0102, 0x0304, 0x0506, 0x0708],
        [0x0708, 0x0506, 0x0304, 0x0102],
        [0x0201, 0x0403, 0x0605, 0x0807],
        [0x0807, 0x0605, 0x0403, 0x0201],
    ),
    # int64 min -9223372036854775808 = 0x8000000000000000: A=80, all else 00
    *_four(
        I64,
        -(2**63),
        [0x8000, 0x0000, 0x0000, 0x0000],
        [0x0000, 0x0000, 0x0000, 0x8000],
        [0x0080, 0x0000, 0x0000, 0x0000],
        [0x0000, 0x0000, 0x0000, 0x0080],
    ),
    # int64 max 0x7FFFFFFFFFFFFFFF: A=7F, all else FF
    *_four(
        I64,
        2**63 - 1,
        [0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF],
        [0xFFFF, 0xFFFF, 0xFFFF, 0x7FFF],
        [0xFF7F, 0xFFFF, 0xFFFF, 0xFFFF],
        [0xFFFF, 0xFFFF, 0xFFFF, 0xFF7F],
    ),
    # -2 = 0xFFFFFFFFFFFFFFFE: H=FE, all else FF
    *_four(
        I64,
        -2,
        [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE],
        [0xFFFE, 0xFFFF, 0xFFFF, 0xFFFF],
        [0xFFFF, 0xFFFF, 0xFFFF, 0xFEFF],
        [0xFEFF, 0xFFFF, 0xFFFF, 0xFFFF],
    ),
    # --- uint64 ---
    # 0x0123456789ABCDEF: A..H = 01 23 45 67 89 AB CD EF
    *_four(
        U64,
        0x0123456789ABCDEF,
        [0x0123, 0x4567, 0x89AB, 0xCDEF],
        [0xCDEF, 0x89AB, 0x4567, 0x0123],
        [0x2301, 0x6745, 0xAB89, 0xEFCD],
        [0xEFCD, 0xAB89, 0x6745, 0x2301],
    ),
    # uint64 max 0xFFFFFFFFFFFFFFFF (symmetric)
    *_four(U64, 2**64 - 1, *[[0xFFFF] * 4] * 4),
    # --- float32 (IEEE 754 single) ---
    # 123.456 = 1.929 * 2^6: exponent 127+6 = 0x85, mantissa round(0.929 * 2^23) = 0x76E979
    # -> 0 10000101 1110110... = 0x42F6E979. The float32 holds exactly
    # 64 * (1 + 0x76E979 / 2^23) = 123.45600128173828125, so that is the decoded value.
    *_four(
        F32,
        123.45600128173828,
        [0x42F6, 0xE979],
        [0xE979, 0x42F6],
        [0xF642, 0x79E9],
        [0x79E9, 0xF642],
    ),
    # -2.5 = -1.25 * 2^1: sign 1, exponent 0x80, mantissa .01b -> 1 10000000 0100... = 0xC0200000
    *_four(F32, -2.5, [0xC020, 0x0000], [0x0000, 0xC020], [0x20C0, 0x0000], [0x0000, 0x20C0]),
    # 1.0: exponent 0x7F, mantissa 0 -> 0 01111111 000... = 0x3F800000
    *_four(F32, 1.0, [0x3F80, 0x0000], [0x0000, 0x3F80], [0x803F, 0x0000], [0x0000, 0x803F]),
    # --- float64 (IEEE 754 double) ---
    # 1050.25 = 10000011010.01b = 1.00000110100 1b * 2^10: exponent 1023+10 = 0x409,
    # fraction 0000 0110 1001 0... = 0x0690000000000 -> 0x4090690000000000
    *_four(
        F64,
        1050.25,
        [0x4090, 0x6900, 0x0000, 0x0000],
        [0x0000, 0x0000, 0x6900, 0x4090],
        [0x9040, 0x0069, 0x0000, 0x0000],
        [0x0000, 0x0000, 0x0069, 0x9040],
    ),
    # 0.1 = 0x3FB999999999999A (1.6 * 2^-4, 0x999.. rounded up to ..9A); -0.1 sets the sign bit
    # -> 0xBFB999999999999A
    *_four(
        F64,
        -0.1,
        [0xBFB9, 0x9999, 0x9999, 0x999A],
        [0x999A, 0x9999, 0x9999, 0xBFB9],
        [0xB9BF, 0x9999, 0x9999, 0x9A99],
        [0x9A99, 0x9999, 0x9999, 0xB9BF],
    ),
    # --- string (register count = length; word order ignored) ---
    # "Nd": N=0x4E d=0x64
    *_four(STR, "Nd", [0x4E64], [0x4E64], [0x644E], [0x644E]),
    # "PrNd" in 3 registers: 50 72 4E 64 00 00
    *_four(
        STR,
        "PrNd",
        [0x5072, 0x4E64, 0x0000],
        [0x5072, 0x4E64, 0x0000],
        [0x7250, 0x644E, 0x0000],
        [0x7250, 0x644E, 0x0000],
    ),
    # "abc" in 2 registers (odd byte count): 61 62 63 00
    *_four(STR, "abc", [0x6162, 0x6300], [0x6162, 0x6300], [0x6261, 0x0063], [0x6261, 0x0063]),
    # "PrNd" filling 2 registers exactly (no NUL): 50 72 4E 64
    *_four(STR, "PrNd", [0x5072, 0x4E64], [0x5072, 0x4E64], [0x7250, 0x644E], [0x7250, 0x644E]),
    # UTF-8 "°C": U+00B0 = C2 B0, C = 43, pad 00
    *_four(STR, "°C", [0xC2B0, 0x4300], [0xC2B0, 0x4300], [0xB0C2, 0x0043], [0xB0C2, 0x0043]),
    # UTF-8 "20€": 32 30, U+20AC = E2 82 AC, pad 00
    *_four(
        STR,
        "20€",
        [0x3230, 0xE282, 0xAC00],
        [0x3230, 0xE282, 0xAC00],
        [0x3032, 0x82E2, 0x00AC],
        [0x3032, 0x82E2, 0x00AC],
    ),
    # an inner space is kept: "A B" = 41 20 42, then 00 (trailing spaces are padding, trimmed)
    *_four(STR, "A B", [0x4120, 0x4200], [0x4120, 0x4200], [0x2041, 0x0042], [0x2041, 0x0042]),
    # empty string: all NUL
    *_four(STR, "", [0x0000], [0x0000], [0x0000], [0x0000]),
]

# (register as read, order, bit, value). 0x8001 has bits 15 and 0 set; with a byte swap the
# register holding logical 0x8001 reads 0x0180. 0x1234 = 0001 0010 0011 0100: bits 2, 4, 5, 9, 12.
BIT_DECODE = [
    (0x8001, ABCD, 0, True),
    (0x8001, ABCD, 15, True),
    (0x8001, ABCD, 1, False),
    (0x8001, ABCD, 7, False),
    (0x8001, ABCD, 8, False),
    (0x8001, ABCD, 14, False),
    (0x8001, CDAB, 0, True),
    (0x8001, CDAB, 15, True),
    (0x0180, BADC, 0, True),
    (0x0180, BADC, 15, True),
    (0x0180, BADC, 7, False),
    (0x0180, BADC, 8, False),
    (0x0180, DCBA, 0, True),
    (0x0180, DCBA, 15, True),
    # raw 0x0001 byte-swapped is logical 0x0100: only bit 8
    (0x0001, BADC, 8, True),
    (0x0001, BADC, 0, False),
    (0x0001, ABCD, 0, True),
    (0x0001, ABCD, 8, False),
    # 0x1234 as ABCD: bits 2, 4, 5, 9, 12 set; 3 and 15 clear
    (0x1234, ABCD, 2, True),
    (0x1234, ABCD, 9, True),
    (0x1234, ABCD, 12, True),
    (0x1234, ABCD, 3, False),
    (0x1234, ABCD, 15, False),
    # 0x1234 as BADC is logical 0x3412 = 0011 0100 0001 0010: bits 1, 4, 10, 12, 13
    (0x1234, BADC, 1, True),
    (0x1234, BADC, 13, True),
    (0x1234, BADC, 2, False),
    (0x1234, DCBA, 4, True),
    (0x1234, DCBA, 9, False),
]

# (current register, order, bit, value, expected register)
BIT_ENCODE = [
    (0x0000, ABCD, 0, True, 0x0001),
    (0x0000, CDAB, 0, True, 0x0001),
    (0x0000, BADC, 0, True, 0x0100),  # logical 0x0001, sent byte-swapped
    (0x0000, DCBA, 0, True, 0x0100),
    (0x0000, ABCD, 15, True, 0x8000),
    (0x0000, BADC, 15, True, 0x0080),  # logical 0x8000 -> 0x0080
    (0xFFFF, ABCD, 15, False, 0x7FFF),
    (0xFFFF, BADC, 15, False, 0xFF7F),  # logical 0x7FFF -> 0xFF7F
    (0xFFFF, DCBA, 0, False, 0xFEFF),  # logical 0xFFFE -> 0xFEFF
    (0x1234, ABCD, 3, True, 0x123C),  # 0x1234 | 0x0008
    (0x1234, BADC, 3, True, 0x1A34),  # logical 0x3412 | 0x0008 = 0x341A -> 0x1A34
    (0x1234, ABCD, 4, False, 0x1224),  # 0x1234 & ~0x0010
    (0x1234, BADC, 4, False, 0x0234),  # logical 0x3412 & ~0x0010 = 0x3402 -> 0x0234
    (0x1234, ABCD, 2, True, 0x1234),  # already set: unchanged
    (0x1234, ABCD, 3, False, 0x1234),  # already clear: unchanged
]


def _length(dtype: DataType, registers: list[int]) -> int | None:
    return len(registers) if dtype is DataType.STRING else None


# --- golden vectors, both directions ---


@pytest.mark.parametrize(("dtype", "order", "value", "registers"), VECTORS)
def test_decode_golden(dtype: DataType, order: ByteOrder, value: Any, registers: list[int]) -> None:
    decoded = decode(registers, dtype, order)
    assert decoded == value
    assert type(decoded) is type(value)


@pytest.mark.parametrize(("dtype", "order", "value", "registers"), VECTORS)
def test_encode_golden(dtype: DataType, order: ByteOrder, value: Any, registers: list[int]) -> None:
    assert encode(value, dtype, order, length=_length(dtype, registers)) == registers


@pytest.mark.parametrize(("register", "order", "bit", "value"), BIT_DECODE)
def test_decode_bit_golden(register: int, order: ByteOrder, bit: int, value: bool) -> None:
    assert decode([register], DataType.BIT, order, bit=bit) is value


@pytest.mark.parametrize(("current", "order", "bit", "value", "expected"), BIT_ENCODE)
def test_encode_bit_golden(
    current: int, order: ByteOrder, bit: int, value: bool, expected: int
) -> None:
    assert encode(value, DataType.BIT, order, bit=bit, current=current) == [expected]


def test_default_order_is_abcd() -> None:
    assert decode([0xFFFE, 0x1DC0], DataType.INT32) == -123456
    assert encode(-123456, DataType.INT32) == [0xFFFE, 0x1DC0]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        (ABCD, [0x42F6, 0xE979]),
        (CDAB, [0xE979, 0x42F6]),
        (BADC, [0xF642, 0x79E9]),
        (DCBA, [0x79E9, 0xF642]),
    ],
)
def test_encode_float32_rounds_a_double(order: ByteOrder, expected: list[int]) -> None:
    # the double 123.456 is not a float32: it rounds to 0x42F6E979 (see VECTORS)
    assert encode(123.456, DataType.FLOAT32, order) == expected
    assert decode(expected, DataType.FLOAT32, order) == pytest.approx(123.456, rel=1e-7)


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (F64, 2, [0x4000, 0x0000, 0x0000, 0x0000]),  # 2.0 = 1.0 * 2^1: exponent 0x400
        (F32, -3, [0xC040, 0x0000]),  # -3.0 = -1.5 * 2^1: 1 10000000 1000... = 0xC0400000
    ],
)
def test_floats_accept_ints(dtype: DataType, value: int, expected: list[int]) -> None:
    assert encode(value, dtype) == expected


@pytest.mark.parametrize(
    ("dtype", "registers", "expected"),
    [
        (F32, [0x7F80, 0x0000], math.inf),  # exponent all ones, mantissa 0
        (F32, [0xFF80, 0x0000], -math.inf),
        (F64, [0x7FF0, 0x0000, 0x0000, 0x0000], math.inf),
        (F64, [0xFFF0, 0x0000, 0x0000, 0x0000], -math.inf),
    ],
)
def test_decode_infinity_as_is(dtype: DataType, registers: list[int], expected: float) -> None:
    assert decode(registers, dtype) == expected


@pytest.mark.parametrize(
    ("dtype", "order", "registers"),
    [
        (F32, ABCD, [0x7FC0, 0x0000]),  # quiet NaN 0x7FC00000
        (F32, DCBA, [0x0000, 0xC07F]),
        (F64, ABCD, [0x7FF8, 0x0000, 0x0000, 0x0000]),  # quiet NaN 0x7FF8000000000000
        (F64, CDAB, [0x0000, 0x0000, 0x0000, 0x7FF8]),
    ],
)
def test_decode_nan_as_is(dtype: DataType, order: ByteOrder, registers: list[int]) -> None:
    value = decode(registers, dtype, order)
    assert isinstance(value, float)
    assert math.isnan(value)


def test_encode_infinity() -> None:
    assert encode(math.inf, DataType.FLOAT32) == [0x7F80, 0x0000]
    assert encode(-math.inf, DataType.FLOAT64, DCBA) == [0x0000, 0x0000, 0x0000, 0xF0FF]


@pytest.mark.parametrize(
    ("registers", "order", "expected"),
    [
        ([0x4100, 0x4243], ABCD, "A"),  # "A", NUL, then "BC" after the NUL is ignored
        ([0x0041, 0x4243], ABCD, ""),  # NUL first: empty
        ([0x0041, 0x4342], BADC, "A"),  # swapped: 41 00 42 43
        ([0x4E64, 0x2020], ABCD, "Nd"),  # trailing padding spaces trimmed
        ([0x4E20, 0x6400], ABCD, "N d"),  # inner spaces kept
        ([0x2020, 0x2000], ABCD, ""),  # only padding
    ],
)
def test_decode_string_cuts_at_first_nul(
    registers: list[int], order: ByteOrder, expected: str
) -> None:
    assert decode(registers, DataType.STRING, order) == expected


# --- round trips (complements the golden vectors, never replaces them) ---

ROUND_TRIP_VALUES: dict[DataType, list[int | float]] = {
    I16: [0, 1, -1, 255, 256, -256, 12345, -32768, 32767],
    U16: [0, 1, 255, 256, 0x8000, 65535],
    I32: [0, 1, -1, 65535, 65536, -65536, 2**31 - 1, -(2**31)],
    U32: [0, 1, 65535, 65536, 0x80000000, 2**32 - 1],
    I64: [0, -1, 2**32, -(2**32), 2**63 - 1, -(2**63)],
    U64: [0, 1, 2**32, 2**63, 2**64 - 1],
    # float32 values must be exact in single precision: max, smallest normal, smallest subnormal
    F32: [0.0, -0.0, 1.5, -1024.125, 3.4028234663852886e38, 2.0**-126, -(2.0**-149), math.inf],
    F64: [0.0, -0.0, 0.1, -1050.25, 1.0e308, 5.0e-324, math.inf],
}


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", list(ROUND_TRIP_VALUES))
def test_value_round_trip(dtype: DataType, order: ByteOrder) -> None:
    for value in ROUND_TRIP_VALUES[dtype]:
        registers = encode(value, dtype, order)
        assert all(0 <= r <= 0xFFFF for r in registers)
        decoded = decode(registers, dtype, order)
        assert decoded == value
        assert math.copysign(1, decoded) == math.copysign(1, value)  # keeps -0.0


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("dtype", [I16, U16, I32, U32, I64, U64])
def test_register_round_trip(dtype: DataType, order: ByteOrder) -> None:
    # every register pattern is a valid integer, so registers -> value -> registers is exact
    rng = random.Random(f"{dtype.value}-{order.value}")
    width = len(encode(0, dtype, order))
    for _ in range(200):
        registers = [rng.randrange(0x10000) for _ in range(width)]
        assert encode(decode(registers, dtype, order), dtype, order) == registers


@pytest.mark.parametrize("order", ORDERS)
def test_bit_round_trip(order: ByteOrder) -> None:
    rng = random.Random(order.value)
    for bit in range(16):
        current = rng.randrange(0x10000)
        for value in (True, False):
            [register] = encode(value, DataType.BIT, order, bit=bit, current=current)
            assert decode([register], DataType.BIT, order, bit=bit) is value
            # no other bit changes
            assert (register ^ current) in (0, 1 << (bit ^ 8 if order.swap_bytes else bit))


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(("text", "length"), [("x", 1), ("Tank 7 level", 8), ("Größe µm", 6)])
def test_string_round_trip(order: ByteOrder, text: str, length: int) -> None:
    registers = encode(text, DataType.STRING, order, length=length)
    assert len(registers) == length
    assert decode(registers, DataType.STRING, order) == text


# --- errors ---


@pytest.mark.parametrize(
    ("dtype", "registers"),
    [
        (I16, []),
        (U16, [1, 2]),
        (I32, [1]),
        (U32, [1, 2, 3]),
        (F32, [0x42F6]),
        (I64, [1, 2, 3]),
        (U64, [1, 2, 3, 4, 5]),
        (F64, [1, 2]),
        (DataType.BIT, []),
        (DataType.BIT, [1, 2]),
        (STR, []),
    ],
)
def test_decode_wrong_register_count(dtype: DataType, registers: list[int]) -> None:
    with pytest.raises(DecodeError, match=rf"{dtype.value} needs|at least one register"):
        decode(registers, dtype, bit=0)


@pytest.mark.parametrize(
    ("dtype", "registers"),
    [(U16, [0x10000]), (I16, [-1]), (I32, [0, 70000]), (STR, [0x4E64, -5]), (DataType.BIT, [-1])],
)
def test_decode_register_out_of_range(dtype: DataType, registers: list[int]) -> None:
    with pytest.raises(DecodeError, match=r"0\.\.65535"):
        decode(registers, dtype, bit=0)


@pytest.mark.parametrize("bit", [-1, 16, 100, None])
def test_decode_bit_out_of_range(bit: int | None) -> None:
    with pytest.raises(DecodeError, match=r"bit must be 0\.\.15"):
        decode([0xFFFF], DataType.BIT, bit=bit)


@pytest.mark.parametrize("bit", [-1, 16, None])
def test_encode_bit_out_of_range(bit: int | None) -> None:
    with pytest.raises(ValueError, match=r"bit must be 0\.\.15"):
        encode(True, DataType.BIT, bit=bit)


@pytest.mark.parametrize("current", [-1, 0x10000])
def test_encode_bit_current_out_of_range(current: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.65535"):
        encode(True, DataType.BIT, bit=0, current=current)


@pytest.mark.parametrize("value", [2, -1, "1"])
def test_encode_bit_needs_a_bool(value: Any) -> None:
    with pytest.raises(ValueError, match="a bit must be True or False"):
        encode(value, DataType.BIT, bit=0)


@pytest.mark.parametrize(
    ("registers", "order"),
    [
        ([0xC328], ABCD),  # C3 must be followed by a continuation byte 80..BF, not 28
        ([0xFF41], ABCD),  # FF never occurs in UTF-8
        ([0x41FF], BADC),  # swapped: FF 41
        ([0xE282], ABCD),  # "€" cut after two of its three bytes
    ],
)
def test_decode_invalid_utf8(registers: list[int], order: ByteOrder) -> None:
    with pytest.raises(DecodeError, match="UTF-8"):
        decode(registers, DataType.STRING, order)


# --- string encodings ---

# "电解槽" (electrolysis cell) in GBK: B5 E7 BD E2 B2 DB, then NUL padding
GBK_CELL = [0xB5E7, 0xBDE2, 0xB2DB, 0x0000]


def test_decode_gbk_string() -> None:
    assert decode(GBK_CELL, DataType.STRING, encoding="gbk") == "电解槽"
    assert decode([0xE7B5, 0xE2BD, 0xDBB2, 0x0000], DataType.STRING, BADC, encoding="gbk") == (
        "电解槽"
    )


def test_gbk_bytes_are_not_utf8() -> None:
    with pytest.raises(DecodeError, match="UTF-8"):
        decode(GBK_CELL, DataType.STRING)


def test_encode_gbk_string() -> None:
    assert encode("电解槽", DataType.STRING, length=4, encoding="gbk") == GBK_CELL


def test_invalid_bytes_carry_the_text_with_replacement_characters() -> None:
    # B5 E7 is one GBK character; FF is never valid in GBK; 41 is "A"
    with pytest.raises(InvalidText, match="GBK") as caught:
        decode([0xB5E7, 0xFF41], DataType.STRING, encoding="gbk")
    assert caught.value.text == "电\ufffdA"


def test_padding_is_trimmed_in_other_encodings() -> None:
    assert decode([0xB5E7, 0x2020, 0x0000], DataType.STRING, encoding="gbk") == "电"
    assert decode([0x0041, 0x0020, 0x0000], DataType.STRING, encoding="utf-16-be") == "A"
    assert decode([0x0041, 0x0000, 0x0042], DataType.STRING, encoding="utf-16-be") == "A"


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(
    ("text", "encoding", "length"),
    [("电解槽 3", "gbk", 5), ("Größe", "latin-1", 3), ("タンク", "shift_jis", 3)],
)
def test_string_round_trip_in_other_encodings(
    order: ByteOrder, text: str, encoding: str, length: int
) -> None:
    registers = encode(text, DataType.STRING, order, length=length, encoding=encoding)
    assert decode(registers, DataType.STRING, order, encoding=encoding) == text


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        (I16, 32768),
        (I16, -32769),
        (U16, -1),
        (U16, 65536),
        (I32, 2**31),
        (I32, -(2**31) - 1),
        (U32, -1),
        (U32, 2**32),
        (I64, 2**63),
        (I64, -(2**63) - 1),
        (U64, -1),
        (U64, 2**64),
        (F32, 1e39),  # beyond float32 max 3.4e38
        (F64, 10**400),  # int too large for a double
    ],
)
def test_encode_out_of_range(dtype: DataType, value: int | float) -> None:
    with pytest.raises(ValueError, match=f"cannot encode .* as {dtype.value}"):
        encode(value, dtype)


@pytest.mark.parametrize(("dtype", "value"), [(I16, 1.5), (U32, 2.0), (I64, "7"), (F32, "1.0")])
def test_encode_wrong_kind_of_number(dtype: DataType, value: Any) -> None:
    with pytest.raises(ValueError, match=f"cannot encode .* as {dtype.value}"):
        encode(value, dtype)


@pytest.mark.parametrize(
    ("text", "length"),
    [("abc", 1), ("PrNd!", 2), ("ab€", 2)],  # "ab€" is 3 characters but 5 UTF-8 bytes
)
def test_encode_string_too_long(text: str, length: int) -> None:
    with pytest.raises(ValueError, match="more than"):
        encode(text, DataType.STRING, length=length)


def test_encode_string_exactly_full_is_accepted() -> None:
    # "a€" = 61 E2 82 AC: exactly 2 registers
    assert encode("a€", DataType.STRING, length=2) == [0x61E2, 0x82AC]


@pytest.mark.parametrize("length", [None, 0])
def test_encode_string_needs_length(length: int | None) -> None:
    with pytest.raises(ValueError, match="length"):
        encode("Nd", DataType.STRING, length=length)


def test_encode_string_rejects_nul_and_non_str() -> None:
    with pytest.raises(ValueError, match="NUL"):
        encode("a\0b", DataType.STRING, length=2)
    with pytest.raises(ValueError, match="needs a str"):
        encode(42, DataType.STRING, length=2)


def test_bool_is_rejected() -> None:
    with pytest.raises(DecodeError, match="bool"):
        decode([1], DataType.BOOL)
    with pytest.raises(ValueError, match="bool"):
        encode(True, DataType.BOOL)


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)
