"""Deadband stage: write a value only when it moved, with a heartbeat.

A sample passes when it is the first of its point, when its quality or reason changed, when
the heartbeat interval has passed since the last written sample, or when its value moved by
more than the threshold (numbers) or changed at all (other types). Points without a rule pass
every sample.

The heartbeat runs on monotonic time, read once per batch by the pipeline (`now_s`): the
wall clock can step (NTP, an operator), and a step back of an hour must not delay the next
heartbeat by an hour. The samples keep their wall-clock timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.model import Point, Sample, Value


@dataclass(frozen=True, slots=True)
class DeadbandRule:
    """Threshold in engineering units (None: any change) and heartbeat in s (None: never)."""

    threshold: float | None
    heartbeat_s: float | None


@dataclass(slots=True)
class _Last:
    value: Value | None
    quality: int
    reason: str
    written_s: float  # monotonic time of the write


class DeadbandFilter:
    """Suppress samples that carry no news (the pipeline counts what passes)."""

    def __init__(self, rules: dict[Point, DeadbandRule]) -> None:
        self.rules = rules
        self.last: dict[Point, _Last] = {}
        self.now_s = 0.0  # monotonic seconds of the batch being filtered, set by the pipeline

    def __call__(self, sample: Sample) -> Sample | None:
        rule = self.rules.get(sample.point)
        if rule is None:
            return sample
        last = self.last.get(sample.point)
        if last is None or self._news(rule, last, sample, self.now_s):
            self.last[sample.point] = _Last(sample.value, sample.quality, sample.reason, self.now_s)
            return sample
        return None

    @staticmethod
    def _news(rule: DeadbandRule, last: _Last, sample: Sample, now_s: float) -> bool:
        if sample.quality != last.quality or sample.reason != last.reason:
            return True
        if rule.heartbeat_s is not None and now_s - last.written_s >= rule.heartbeat_s:
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
