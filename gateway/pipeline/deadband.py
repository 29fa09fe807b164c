"""Deadband stage: write a value only when it moved, with a heartbeat.

A sample passes when it is the first of its point, when its quality or reason changed, when
the heartbeat interval has passed since the last written sample, or when its value moved by
more than the threshold (numbers) or changed at all (other types). Points without a rule pass
every sample. Time is the samples' own timestamps, so the stage is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model import Point, Sample, Value


@dataclass(frozen=True, slots=True)
class DeadbandRule:
    """Threshold in engineering units (None: any change) and heartbeat in ns (None: never)."""

    threshold: float | None
    heartbeat_ns: int | None


@dataclass(slots=True)
class _Last:
    value: Value | None
    quality: int
    reason: str
    time_ns: int


class DeadbandFilter:
    """Suppress samples that carry no news (the pipeline counts what passes)."""

    def __init__(self, rules: dict[Point, DeadbandRule]) -> None:
        self.rules = rules
        self.last: dict[Point, _Last] = {}

    def __call__(self, sample: Sample) -> Sample | None:
        rule = self.rules.get(sample.point)
        if rule is None:
            return sample
        last = self.last.get(sample.point)
        if last is None or self._news(rule, last, sample):
            self.last[sample.point] = _Last(
                sample.value, sample.quality, sample.reason, sample.time_ns
            )
            return sample
        return None

    @staticmethod
    def _news(rule: DeadbandRule, last: _Last, sample: Sample) -> bool:
        if sample.quality != last.quality or sample.reason != last.reason:
            return True
        if rule.heartbeat_ns is not None and sample.time_ns - last.time_ns >= rule.heartbeat_ns:
            return True
        old, new = last.value, sample.value
        if (
            rule.threshold is not None
            and isinstance(new, int | float)
            and isinstance(old, int | float)
            and not isinstance(new, bool)
        ):
            return abs(new - old) > rule.threshold
        return new != old
