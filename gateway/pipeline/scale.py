"""Scale stage: engineering = raw * factor + offset (both scaling forms compile to this)."""

from __future__ import annotations

from gateway.model import Point, Sample


class Scale:
    """Apply each point's linear scaling; scaled values are floats."""

    def __init__(self, rules: dict[Point, tuple[float, float]]) -> None:
        self.rules = rules

    def __call__(self, sample: Sample) -> Sample | None:
        rule = self.rules.get(sample.point)
        value = sample.value
        if rule is not None and value is not None and not isinstance(value, bool | str):
            sample.value = value * rule[0] + rule[1]
        return sample
