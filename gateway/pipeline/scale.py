"""Scale stage: engineering = raw * factor + offset (both scaling forms compile to this).

An integer reading scaled by a decimal factor is exact in decimal (943 x 0.1 is 94.3), but
not in binary floating point (94.30000000000001). So a scaled integer is rounded to the
decimals of the factor and the offset, as written (their shortest `repr`): its resolution,
no digit lost. A float reading is scaled as it is (a float32 point is written with float32
digits by the encoder anyway).
"""

from __future__ import annotations

from decimal import Decimal

from gateway.model import Point, Sample

#: beyond this many decimals the factor is no decimal resolution (100 / 27648): no rounding
MAX_DECIMALS = 15


def decimals(number: float) -> int:
    """Decimal places of `number` as written (0.1 -> 1, 2.5e-3 -> 4, 20.0 -> 0)."""
    exponent = Decimal(repr(float(number))).normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def resolution(factor: float, offset: float) -> int | None:
    """The decimals a scaled integer is rounded to; None: not rounded."""
    places = max(decimals(factor), decimals(offset))
    return places if places <= MAX_DECIMALS else None


class Scale:
    """Apply each point's linear scaling; scaled values are floats."""

    def __init__(self, rules: dict[Point, tuple[float, float]]) -> None:
        # one rule per distinct scaling, shared by its points (100,000 tags are mostly
        # scaled alike: a tuple each would cost 64 bytes per tag and a resolution() each)
        alike: dict[tuple[float, float], tuple[float, float, int | None]] = {}
        self.rules = {
            point: alike.get(scale) or alike.setdefault(scale, (*scale, resolution(*scale)))
            for point, scale in rules.items()
        }

    def __call__(self, sample: Sample) -> Sample | None:
        rule = self.rules.get(sample.point)
        value = sample.value
        if rule is None or value is None or isinstance(value, bool | str):
            return sample
        factor, offset, places = rule
        scaled = value * factor + offset
        if places is not None and isinstance(value, int):  # bools returned above; Unsigned too
            scaled = round(scaled, places)
        sample.value = scaled
        return sample
