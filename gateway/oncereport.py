"""What `gateway once` prints besides its line protocol: with `--raw`, after each line a
comment per value saying what it was decoded from; and on stderr one hint per value that
looks implausible, naming the command that shows the tag's raw data (Modbus: `gateway
probe`). `OnceNotes` gathers what that takes while `once` scans; the rest is pure.

InfluxDB's line protocol takes `#` lines as comments, so the output of `once --raw` still
loads as line protocol; without `--raw` stdout is the line protocol alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from gateway.collectors import registry
from gateway.collectors.base import Collector, ConnectionPlan
from gateway.model import Point, Quality, Sample, Value
from gateway.plausibility import implausible
from gateway.sinks.floats import float32_text
from gateway.sinks.lineprotocol import Precision, encode_lines

_DIVISORS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


def value_text(point: Point, value: Value | None) -> str:
    """A value as the line protocol writes it (a float32 with its shortest digits)."""
    if isinstance(value, float) and point.float32 and math.isfinite(value):
        return float32_text(value)
    return repr(value) if isinstance(value, str) else str(value)


def comment(sample: Sample, source: str) -> str:
    """`# cell01 flow=1234.5 <- HR 100..101 [0x5000 0x449A] float32 CDAB`."""
    p = sample.point
    if sample.quality is Quality.BAD:
        said = f"{p.tag} BAD ({sample.reason})"
    else:
        said = f"{p.tag}={value_text(p, sample.value)}"
        if sample.quality is Quality.UNCERTAIN:
            said += f" UNCERTAIN ({sample.reason})"
    return f"# {p.device} {said} {source}".rstrip()


def annotated_lines(
    samples: Sequence[Sample], precision: Precision, sources: Mapping[Point, str]
) -> list[str]:
    """The line protocol of `samples`, each line followed by a comment per value in it."""
    divisor = _DIVISORS[Precision(precision).value]
    out: list[str] = []
    group: list[Sample] = []

    def flush() -> None:
        out.extend(encode_lines(group, precision))
        out.extend(comment(s, sources.get(s.point, "")) for s in group)
        group.clear()

    for sample in samples:  # the samples one line holds: one series at one timestamp
        if group and (
            sample.point.series != group[0].point.series
            or sample.time_ns // divisor != group[0].time_ns // divisor
        ):
            flush()
        group.append(sample)
    if group:
        flush()
    return out


def implausible_hints(
    samples: Iterable[Sample],
    raw_values: Mapping[Point, Value | None],
    ranges: Mapping[Point, tuple[float, float] | None],
    command: Callable[[Point], str],
    per_device: int = 3,
) -> list[str]:
    """One line per value that looks wrong: outside its tag's range, NaN, infinite, or a float
    of a magnitude no process variable has (see gateway.plausibility). A value the pipeline
    refused (NaN is BAD) is judged as it was read. Past `per_device` lines for one device (a
    wrong byte order spoils them all) its other such values share one line."""
    lines = []
    more: dict[str, list[str]] = {}
    for s in samples:
        value = s.value if s.value is not None else raw_values.get(s.point)
        why = implausible(value, ranges.get(s.point))
        if not why:
            continue
        device = s.point.device
        shown = more.setdefault(device, [])
        shown.append(s.point.tag)
        if len(shown) > per_device:
            continue
        line = f"hint: {device}.{s.point.tag}={value_text(s.point, value)} looks "
        line += f"implausible ({why})"
        probe = command(s.point)
        lines.append(f"{line}; inspect it with: {probe}" if probe else line)
    for device, tags in more.items():
        if len(tags) > per_device:
            rest = tags[per_device:]
            named = ", ".join(rest[:per_device]) + (", ..." if len(rest) > per_device else "")
            lines.append(
                f"hint: {device}: {len(rest)} more values look implausible ({named}); "
                "`gateway once --raw` shows their registers"
            )
    return lines


class OnceNotes:
    """What `gateway once` notes of each connection's scan: the values as read (before the
    pipeline: a NaN it turns BAD is still judged), the plan each point came from, and with
    `raw` what each value was decoded from (the protocol's `sources`)."""

    def __init__(self, raw: bool) -> None:
        self.raw = raw
        self.sources: dict[Point, str] = {}
        self.raw_values: dict[Point, Value | None] = {}
        self.plan_of: dict[Point, ConnectionPlan] = {}

    def watch(
        self, plan: ConnectionPlan, collector: Collector
    ) -> Callable[[Sequence[Sample]], None]:
        """Call before the collector scans; call what it returns with the samples read."""
        source = registry.sources(plan, collector) if self.raw else None

        def scanned(samples: Sequence[Sample]) -> None:
            for s in samples:
                self.raw_values[s.point], self.plan_of[s.point] = s.value, plan
                if source is not None:
                    self.sources[s.point] = source(s)

        return scanned

    def lines(self, samples: Sequence[Sample], precision: Precision) -> list[str]:
        """stdout: the line protocol, with `raw` a comment per value after each line."""
        if self.raw:
            return annotated_lines(samples, precision, self.sources)
        return encode_lines(samples, precision)

    def hints(self, samples: Sequence[Sample], plans: Iterable[ConnectionPlan]) -> list[str]:
        """stderr: a hint per implausible value (after the pipeline's scale)."""
        ranges = {t.point: t.range for plan in plans for t in plan.tag_plans()}

        def command(point: Point) -> str:
            plan = self.plan_of.get(point)
            return registry.inspect_command(plan, point) if plan is not None else ""

        return implausible_hints(samples, self.raw_values, ranges, command)
