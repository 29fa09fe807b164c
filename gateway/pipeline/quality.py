"""Quality stage: a non-finite number is BAD, a value outside the tag's range is UNCERTAIN."""

from __future__ import annotations

import math

from gateway.model import Point, Quality, Sample


class QualityCheck:
    """Downgrade quality where the value cannot be trusted; never upgrade it."""

    def __init__(self, ranges: dict[Point, tuple[float, float]]) -> None:
        self.ranges = ranges

    def __call__(self, sample: Sample) -> Sample | None:
        value = sample.value
        if isinstance(value, float) and not math.isfinite(value):
            sample.value = None
            sample.quality = Quality.BAD
            sample.reason = f"not a finite number ({value})"
            return sample
        limits = self.ranges.get(sample.point)
        if (
            limits is not None
            and sample.quality is Quality.GOOD
            and isinstance(value, int | float)
            and not isinstance(value, bool)
            and not limits[0] <= value <= limits[1]
        ):
            sample.quality = Quality.UNCERTAIN
            sample.reason = f"out of range [{limits[0]:g}, {limits[1]:g}]"
        return sample
