"""The live terminal view of `gateway demo`: one table per measurement with, per device, its
state, its latest values under headers that carry their units, samples per second averaged
over the last 10 s, BAD samples and its alarms by name; alarm states and alarms stand out,
and the alarms raised and cleared are listed below the tables, then the latest warnings of the
log when the caller passes them (`recent_log`, e.g. a `gateway.telemetry.logpane.LogPane`).

What is shown comes from the caller and the tag maps, never from names known here: per
measurement a `MeasurementView` (values, state and alarm tags, which states are alarms), else
the first tags of each device as its tag map lists them (`columns_from_maps`); the units are
the tags' `unit` fields (`units_from_maps`), the alarm bits' names those the maps give
(`gateway.telemetry.alarmbits`).

On a terminal the view is redrawn in place (ANSI); otherwise (a pipe, a CI log) the alarms
raised and cleared and a short summary line are printed every few seconds, and the tables once
at the end (`draw(final=True)`).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from gateway.config.models import DeviceFields
from gateway.model import Quality, Sample
from gateway.telemetry.alarmbits import AlarmBits, decode
from gateway.telemetry.livetable import Column, render_table
from gateway.telemetry.samplerate import WindowRate

#: tags shown per device when its measurement has no `MeasurementView`: the first of its map
DEFAULT_COLUMNS = 3
#: alarm changes kept for the view
EVENTS = 6
RED, YELLOW, DIM, RESET = "\033[1;31m", "\033[33m", "\033[2m", "\033[0m"
HOME, CLEAR_LINE, CLEAR_BELOW = "\033[H", "\033[K", "\033[J"


@dataclass(frozen=True)
class MeasurementView:
    """How the devices of one measurement are shown."""

    values: tuple[tuple[str, str], ...] = ()  # (tag, format such as "{:6.2f}"), in order
    state_tag: str | None = None  # an enumeration shown as the STATE column
    states: tuple[str, ...] = ()  # its names, by value
    alarm_tag: str | None = None  # a bit word: its set bits are shown by name (yellow)
    alarm_states: frozenset[str] = frozenset()  # states shown in red
    units: Mapping[str, str] = field(default_factory=dict)  # for tags whose map has no unit


def columns_from_maps(
    devices: Iterable[DeviceFields], n: int = DEFAULT_COLUMNS
) -> dict[str, tuple[str, ...]]:
    """Device name -> its first `n` tags, as its tag map lists them."""
    return {d.name: tuple(t.name for t in d.tags[:n]) for d in devices}


def units_from_maps(devices: Iterable[DeviceFields]) -> dict[str, dict[str, str]]:
    """Device name -> tag -> its unit, for the tags whose map gives one."""
    return {d.name: {t.name: t.unit for t in d.tags if t.unit} for d in devices}


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
    alarm_names: Mapping[int, str] = field(default_factory=dict)  # bits of the alarm word
    active: tuple[str, ...] = ()  # the alarms set in the latest alarm word
    rate: WindowRate | None = None

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

    def alarm_text(self) -> str:
        word = self.alarms()
        if not word:
            return ""
        return ",".join(self.active) if self.alarm_names else f"0x{word:04x}"


class LiveView:
    """Collects samples (a Gateway observer) and renders them."""

    def __init__(
        self,
        title: str,
        stream: TextIO | None = None,
        status: Callable[[], str] | None = None,
        layouts: Mapping[str, MeasurementView] | None = None,
        columns: Mapping[str, Sequence[str]] | None = None,
        units: Mapping[str, Mapping[str, str]] | None = None,
        alarm_bits: AlarmBits | None = None,
        clock: Callable[[], float] = time.monotonic,
        recent_log: Callable[[], Sequence[str]] | None = None,
    ) -> None:
        self.title = title
        self.layouts = dict(layouts or {})  # measurement -> how it is shown
        self.columns = dict(columns or {})  # device -> tags shown without a layout
        self.units = dict(units or {})  # device -> tag -> unit, from the tag maps
        self.alarm_bits = dict(alarm_bits or {})
        self.stream = stream or sys.stdout
        self.status = status or (lambda: "")
        self.clock = clock
        self.recent_log = recent_log or (lambda: ())  # log lines shown under the tables
        self.devices: dict[str, DeviceView] = {}
        self.started = clock()
        self.total_rate = WindowRate(self.started)
        self.events: deque[str] = deque(maxlen=EVENTS)  # the latest, for the table
        self._unprinted: list[str] = []  # off a terminal: every change, printed at each draw
        self.tty = self.stream.isatty()

    def _device(self, name: str, measurement: str) -> DeviceView:
        view = self.devices.get(name)
        if view is None:
            view = self.devices[name] = DeviceView(rate=WindowRate(self.started))
        if view.measurement != measurement:
            view.measurement = measurement
            view.layout = self.layouts.get(measurement, MeasurementView())
            word = view.layout.alarm_tag
            view.alarm_names = self.alarm_bits.get(name, {}).get(word, {}) if word else {}
        return view

    def observe(self, samples: list[Sample]) -> None:
        """Gateway observer: remember the latest sample of every tag."""
        for sample in samples:
            view = self._device(sample.point.device, sample.point.measurement)
            view.values[sample.point.tag] = sample
            view.samples += 1
            if sample.quality is Quality.BAD:
                view.errors += 1
                view.last_error = sample.reason
            elif sample.point.tag == view.layout.alarm_tag:
                self._alarm_changed(sample.point.device, view)

    def _alarm_changed(self, name: str, view: DeviceView) -> None:
        active = tuple(decode(view.alarms(), view.alarm_names)) if view.alarm_names else ()
        raised = [a for a in active if a not in view.active]
        cleared = [a for a in view.active if a not in active]
        view.active = active
        at = self.clock() - self.started
        for verb, names in (("raised", raised), ("cleared", cleared)):
            if names:
                event = f"{at:5.0f} s  {name}  {verb} {','.join(names)}"
                self.events.append(event)
                if not self.tty:
                    self._unprinted.append(event)

    def render(self, rows: int | None = None) -> str:
        """Title, one table per measurement (smallest first), the latest alarm changes and log
        lines (colours on a tty); in at most `rows` lines, cutting the tables' end."""
        now = self.clock()
        samples = sum(v.samples for v in self.devices.values())
        total = self.total_rate.update(now, samples)
        body = [
            f"{self.title}   up {now - self.started:.0f} s   {self.status()}",
            f"{samples} samples, "
            + (
                "samples/s: measuring"
                if total is None
                else f"{total:.1f} samples/s over the last {self.total_rate.span:.0f} s"
            ),
        ]
        groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for name in sorted(self.devices):
            view = self.devices[name]
            tags = tuple(t for t, _ in view.layout.values) or tuple(self.columns.get(name, ()))
            groups.setdefault((view.measurement, tags), []).append(name)
        for (measurement, tags), names in sorted(groups.items(), key=lambda g: len(g[1])):
            body += ["", *self._table(measurement, tags, names, now)]
        tail: list[str] = []
        if self.events:
            tail += ["", "alarms raised and cleared (s since start):", *self.events]
        if logged := self.recent_log():
            tail += ["", "latest warnings and errors of the log:", *logged]
        if rows is not None and len(body) + len(tail) > rows:
            keep = max(2, rows - len(tail) - 1)
            hidden = len(body) - keep
            body = [*body[:keep], f"... {hidden} more lines: a taller terminal shows them all"]
            tail = tail[: max(0, rows - len(body))]
        return "\n".join(body + tail)

    def _table(
        self, measurement: str, tags: tuple[str, ...], names: list[str], now: float
    ) -> list[str]:
        views = [self.devices[n] for n in names]
        layout = views[0].layout
        formats = dict(layout.values)
        columns = [Column(measurement, cells=list(names), left=True)]
        if layout.state_tag:
            columns.append(Column("STATE", cells=[v.state() for v in views], left=True))
        for tag in tags:
            unit = self._unit(names[0], tag, layout)
            cells = [self._value(v.values.get(tag), formats.get(tag, "")) for v in views]
            columns.append(Column(tag, unit, cells))
        rates = [v.rate.update(now, v.samples) if v.rate else None for v in views]
        columns += [
            Column("rate", "samples/s", ["-" if r is None else f"{r:.1f}" for r in rates]),
            Column("bad", "samples", [str(v.errors) for v in views]),
        ]
        if layout.alarm_tag:
            columns.append(Column("alarms", cells=[v.alarm_text() for v in views], left=True))
        head, unit_line, *rows = render_table(columns)
        if self.tty:
            unit_line = DIM + unit_line + RESET
        return [head, unit_line, *(self._colour(r, v) for r, v in zip(rows, views, strict=True))]

    def _unit(self, device: str, tag: str, layout: MeasurementView) -> str:
        return self.units.get(device, {}).get(tag) or layout.units.get(tag, "")

    @staticmethod
    def _value(sample: Sample | None, fmt: str) -> str:
        if sample is None:
            return "-"  # no sample yet
        if sample.value is None:
            return "BAD"
        return fmt.format(sample.value).strip() if fmt else _plain(sample.value)

    def _colour(self, row: str, view: DeviceView) -> str:
        if not self.tty:
            return row
        if view.state() in view.layout.alarm_states:
            return RED + row + RESET
        if view.alarms() or view.last_error:
            return YELLOW + row + RESET
        return row

    def draw(self, final: bool = False) -> None:
        """Redraw in place on a terminal; elsewhere print the new alarm changes and a summary
        line (and the tables too when `final`)."""
        if self.tty:
            # no taller than the terminal: a scrolling redraw flickers and hides the top
            shown = self.render(rows=max(3, shutil.get_terminal_size().lines - 1))
            # overwrite in place, clearing each line's rest and the screen below: clearing the
            # whole screen first would flash an empty one at every redraw
            lines = (line + CLEAR_LINE for line in shown.splitlines())
            self.stream.write(HOME + "\n".join(lines) + "\n" + CLEAR_BELOW)
        else:
            for event in self._unprinted:
                self.stream.write(f"{self.title}: {event.strip()}\n")
            self._unprinted.clear()
            self.stream.write((self.render() if final else self.summary()) + "\n")
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
