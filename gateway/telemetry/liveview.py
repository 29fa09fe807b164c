"""The live terminal view of `gateway demo`: per device its state, latest values with units,
samples per second and errors; alarm states and alarms stand out.

What is shown comes from the caller, never from names known here: per measurement a
`MeasurementView` (values, state and alarm tags, which states are alarms), else the first
tags of each device as its tag map lists them (`columns_from_maps`).

On a terminal the table is redrawn in place (ANSI); otherwise (a pipe, a CI log) a short
summary line is printed every few seconds.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from gateway.config.models import DeviceFields
from gateway.model import Quality, Sample

#: tags shown per device when its measurement has no `MeasurementView`: the first of its map
DEFAULT_COLUMNS = 3
RED, YELLOW, DIM, RESET = "\033[1;31m", "\033[33m", "\033[2m", "\033[0m"


@dataclass(frozen=True)
class MeasurementView:
    """How the devices of one measurement are shown."""

    values: tuple[tuple[str, str], ...] = ()  # (tag, format such as "{:6.2f}"), in order
    state_tag: str | None = None  # an enumeration shown as the STATE column
    states: tuple[str, ...] = ()  # its names, by value
    alarm_tag: str | None = None  # a bit word: non-zero is shown (yellow)
    alarm_states: frozenset[str] = frozenset()  # states shown in red


def columns_from_maps(
    devices: Iterable[DeviceFields], n: int = DEFAULT_COLUMNS
) -> dict[str, tuple[str, ...]]:
    """Device name -> its first `n` tags, as its tag map lists them."""
    return {d.name: tuple(t.name for t in d.tags[:n]) for d in devices}


def _plain(value: object) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


@dataclass
class DeviceView:
    """What the view knows about one device."""

    measurement: str = ""
    values: dict[str, Sample] = field(default_factory=dict)
    samples: int = 0
    errors: int = 0
    last_error: str = ""
    layout: MeasurementView = field(default_factory=MeasurementView)

    def state(self) -> str:
        tag = self.layout.state_tag
        sample = self.values.get(tag) if tag else None
        if sample is None or sample.value is None or isinstance(sample.value, str):
            return "?" if tag else "-"
        names, index = self.layout.states, int(sample.value)
        return names[index] if 0 <= index < len(names) else str(index)

    def alarms(self) -> int:
        tag = self.layout.alarm_tag
        sample = self.values.get(tag) if tag else None
        if sample is None or not isinstance(sample.value, int | float):
            return 0
        return int(sample.value)


class LiveView:
    """Collects samples (a Gateway observer) and renders them."""

    def __init__(
        self,
        title: str,
        stream: TextIO | None = None,
        status: Callable[[], str] | None = None,
        layouts: Mapping[str, MeasurementView] | None = None,
        columns: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.title = title
        self.layouts = dict(layouts or {})  # measurement -> how it is shown
        self.columns = dict(columns or {})  # device -> tags shown without a layout
        self.stream = stream or sys.stdout
        self.status = status or (lambda: "")
        self.devices: dict[str, DeviceView] = defaultdict(DeviceView)
        self.started = time.monotonic()
        self._last_counts: dict[str, int] = {}
        self._last_time = self.started
        self.tty = self.stream.isatty()

    def observe(self, samples: list[Sample]) -> None:
        """Gateway observer: remember the latest sample of every tag."""
        for sample in samples:
            view = self.devices[sample.point.device]
            if view.measurement != sample.point.measurement:
                view.measurement = sample.point.measurement
                view.layout = self.layouts.get(view.measurement, MeasurementView())
            view.values[sample.point.tag] = sample
            view.samples += 1
            if sample.quality is Quality.BAD:
                view.errors += 1
                view.last_error = sample.reason

    def render(self) -> str:
        """The whole table as text (colours only on a terminal)."""
        now = time.monotonic()
        elapsed, span = now - self.started, max(1e-9, now - self._last_time)
        lines = [
            f"{self.title}   up {elapsed:6.0f}s   {self.status()}",
            f"{'DEVICE':<15}{'STATE':<16}{'VALUES':<58}{'S/s':>6}{'ERR':>6}",
        ]
        for name in sorted(self.devices):
            view = self.devices[name]
            rate = (view.samples - self._last_counts.get(name, 0)) / span
            self._last_counts[name] = view.samples
            lines.append(self._row(name, view, rate))
        self._last_time = now
        return "\n".join(lines)

    def _row(self, name: str, view: DeviceView, rate: float) -> str:
        shown = []
        wanted = view.layout.values or [(t, "") for t in self.columns.get(name, ())]
        for tag, fmt in wanted:
            sample = view.values.get(tag)
            if sample is None:
                continue
            if sample.value is None:
                text = "BAD"
            else:
                text = fmt.format(sample.value) if fmt else _plain(sample.value)
            shown.append(f"{text} {sample.point.unit}".rstrip())
        state, alarms = view.state(), view.alarms()
        row = f"{name:<15}{state:<16}{'  '.join(shown):<58}{rate:6.0f}{view.errors:6d}" + (
            f"  alarms 0x{alarms:04x}" if alarms else ""
        )
        if not self.tty:
            return row
        if state in view.layout.alarm_states:
            return RED + row + RESET
        if alarms or view.last_error:
            return YELLOW + row + RESET
        return row

    def draw(self) -> None:
        """Redraw in place on a terminal; print a one-line summary elsewhere."""
        if self.tty:
            self.stream.write("\033[H\033[2J" + self.render() + "\n")
        else:
            self.stream.write(self.summary() + "\n")
        self.stream.flush()

    def summary(self) -> str:
        """One line: devices, alarm states, alarms, samples."""
        in_alarm = sum(1 for v in self.devices.values() if v.state() in v.layout.alarm_states)
        alarmed = sum(1 for v in self.devices.values() if v.alarms())
        samples = sum(v.samples for v in self.devices.values())
        return (
            f"{self.title}: {len(self.devices)} devices, {samples} samples, "
            f"{in_alarm} in an alarm state, {alarmed} with alarms; "
            f"{self.status()}"
        )
