"""Numbers as the device meant them: float32 values with the digits a float32 holds.

A float32 register read as a Python float is exact, but its `repr` has the 17 digits of a
float64 (`105.24388885498047`), claiming precision the PLC never had. The shortest decimal
that reads back as the same float32 has at most 9 significant digits (`105.24389`). It is
the rounding to 7 digits when that reads back (the closest 7-digit decimal, so no other
7-digit one can), else to 8, else 9 (always enough). `%g` strips trailing zeros, so fewer
digits come out when they suffice (`80.5`); a whole number keeps its `.0` (`200.0`), as
`repr` writes it, so that a float always reads as one.

`float32_texts` does a whole response at once: one `%` formatting of every value, one
`struct` pack of what the texts parse back to, compared as bytes with the values packed, and a
per-value retry only for the values that need 8 or 9 digits.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["float32_text", "float32_texts", "to_float32"]

_ONE = struct.Struct("<f")


@lru_cache(maxsize=256)
def _floats(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}f")


@lru_cache(maxsize=512)
def _format(digits: int, count: int) -> str:
    return f"%.{digits}g " * count


def to_float32(value: float) -> float:
    """The float32 nearest to `value` (OverflowError beyond the float32 range)."""
    return float(_ONE.unpack(_ONE.pack(value))[0])


def _texts(values: tuple[float, ...], digits: int) -> tuple[list[str], list[int], bool]:
    """Every value with `digits` significant digits, the indexes of those that do not read
    back as the same float32, and whether every text has a decimal point."""
    count = len(values)
    joined = _format(digits, count) % values
    texts = joined.split()
    floats = _floats(count)
    packed = floats.pack(*map(float, texts))
    pointed = joined.count(".") == count  # a text has one point at most
    if packed == floats.pack(*values):  # bytes compared: no float objects made
        return texts, [], pointed
    back = floats.unpack(packed)
    pairs = zip(range(count), back, values, strict=True)
    return texts, [i for i, again, value in pairs if again != value], pointed


def float32_texts(values: Sequence[float]) -> list[str]:
    """The shortest texts of finite values that are float32 already (as unpacked from
    registers), in order: 7 digits for all at once, 8 for those that need more, 9 for the
    rest (subnormals, below 1.2e-38, may get a digit more than they need)."""
    values = tuple(values)
    if not values:
        return []
    texts, wrong, pointed = _texts(values, 7)
    if wrong:
        longer, wrong8, _ = _texts(tuple(values[i] for i in wrong), 8)
        for i, text in zip(wrong, longer, strict=True):
            texts[i] = text
        for j in wrong8:
            i = wrong[j]
            texts[i] = f"{values[i]:.9g}"
        pointed = False  # not known for the longer texts: look at each
    # a text without a point reads as an integer: `_pointed` gives it one unless it has an
    # exponent (then it reads as a float already); every text has one in most responses
    return texts if pointed else [_pointed(text) for text in texts]


def _pointed(text: str) -> str:
    """A whole number still reads as a float, as `repr` writes it (`200.0`, not `200`)."""
    return text if "." in text or "e" in text else f"{text}.0"


def float32_text(value: float) -> str:
    """The shortest text of the float32 nearest to a finite `value` (e.g. a scaled float32
    reading); `repr` when it is beyond the float32 range."""
    try:
        single = to_float32(value)
    except OverflowError:
        return repr(value)
    for text in (f"{single:.7g}", f"{single:.8g}"):
        if to_float32(float(text)) == single:
            return _pointed(text)
    return _pointed(f"{single:.9g}")
