"""The chain of stages, built from the compiled tag plans."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from gateway.clock import Clock, SystemClock
from gateway.model import Sample, TagPlan
from gateway.pipeline.deadband import DeadbandFilter, DeadbandRule
from gateway.pipeline.quality import QualityCheck
from gateway.pipeline.scale import Scale

#: a stage returns the (possibly modified) sample, or None to drop it
Stage = Callable[[Sample], Sample | None]


class Pipeline:
    """Run every sample through the stages in order."""

    def __init__(self, stages: list[Stage], clock: Clock | None = None) -> None:
        self.stages = stages
        self.clock = clock or SystemClock()
        # stages with timers (heartbeat): given the monotonic time once per batch
        self._timed = [stage for stage in stages if isinstance(stage, DeadbandFilter)]
        self.received = 0
        self.passed = 0

    def apply(self, samples: Sequence[Sample]) -> list[Sample]:
        """The samples that survive every stage, in order. Stages change the samples in
        place (scaling, quality), so after this call every given sample is in engineering
        units, including those the deadband held back."""
        out = []
        stages = self.stages
        if self._timed:
            now = self.clock.monotonic()
            for timed in self._timed:
                timed.now_s = now
        self.received += len(samples)
        for sample in samples:
            current: Sample | None = sample
            for stage in stages:
                current = stage(sample)
                if current is None:
                    break
                sample = current
            if current is not None:
                out.append(current)
        self.passed += len(out)
        return out

    def count_encoded(self, values: int) -> None:
        """Count values a collector encoded itself (`plain` tags): received and passed."""
        self.received += values
        self.passed += values


def plain(tag: TagPlan) -> bool:
    """True when no stage changes the tag's GOOD finite values (no scale, range, deadband or
    heartbeat): a collector may encode those itself, without a Sample per value; the rest
    (non-finite values, BAD readings) still has to come through the pipeline."""
    return (
        tag.scale is None and tag.range is None and tag.deadband is None and tag.heartbeat_s is None
    )


def build_pipeline(tags: Iterable[TagPlan], clock: Clock | None = None) -> Pipeline:
    """Scale, quality and deadband stages for these tags; `clock` times the heartbeats
    (monotonic; default the system clock)."""
    scales, ranges, bands = {}, {}, {}
    for tag in tags:
        if tag.scale is not None:
            scales[tag.point] = tag.scale
        if tag.range is not None:
            ranges[tag.point] = tag.range
        if tag.deadband is not None or tag.heartbeat_s is not None:
            bands[tag.point] = DeadbandRule(tag.deadband, tag.heartbeat_s)
    stages: list[Stage] = [Scale(scales)] if scales else []
    stages.append(QualityCheck(ranges))  # always: a NaN is BAD even without a range
    if bands:
        stages.append(DeadbandFilter(bands))
    return Pipeline(stages, clock)
