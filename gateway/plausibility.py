"""Whether a number read from a device can be right (pure): what `gateway once` hints about and
`gateway probe` judges each decoding by.

Registers read one address off, or in the wrong byte order, still decode as a number, and it
is written as GOOD. Such numbers give themselves away: NaN, infinities, and floats far out of
any process variable's magnitude (a float32 whose exponent bits came from another value is
typically around 1e-38 or 1e+9 and beyond: the issue's `flow=2.16e-38`, `flow=8607918080.0`).
"""

from __future__ import annotations

import math

#: floats outside these magnitudes (but 0) are taken for registers decoded wrongly
TINY, HUGE = 1e-15, 1e15


def implausible(value: object, limits: tuple[float, float] | None = None) -> str:
    """Why `value` looks wrong ("" when it may be right): NaN, infinite, a float whose
    magnitude is below 1e-15 or above 1e15, or a number outside `limits` (low, high)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "infinite"
        size = abs(value)
        if 0 < size < TINY:
            return f"|x| < {TINY:g}"
        if size > HUGE:
            return f"|x| > {HUGE:g}"
    if limits is not None and not limits[0] <= value <= limits[1]:
        return f"outside {limits[0]:g}..{limits[1]:g}"
    return ""
