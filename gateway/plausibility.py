"""Whether a number read from a device can be right (pure): what `gateway once` hints about and
`gateway probe` judges each decoding by.

Registers read one address off, or in the wrong byte order, still decode as a number, and it
is written as GOOD. Some such numbers give themselves away: NaN, infinities, and floats far
out of any process variable's magnitude (below 1e-15 or above 1e15: a float32 whose exponent
bits came from a low word is often near 1e-38; the issue's one-off read gives itself away:
`flow=2.16e-38`). Others are of a magnitude real values have, and only the tag's `range` tells
them apart: the issue's wrong byte order (8.6e9, a plausible energy counter) needs the tag's
range: `flow=8607918080.0`.
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
