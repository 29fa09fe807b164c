"""The live terminal view of `gateway demo`: per device its state, latest values with units,
samples per second and errors; anode effects and alarms stand out.

On a terminal the table is redrawn in place (ANSI); otherwise (a pipe, a CI log) a short
summary line is printed every few seconds.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from gateway.model import Quality, Sample

#: per measurement: (tag, format) of the values shown, in order
KEY_TAGS: dict[str, tuple[tuple[str, str], ...]] = {
    "cell": (
        ("cell_voltage", "{:6.2f}"),
        ("bath_temp", "{:7.1f}"),
        ("oxide_conc", "{:5.2f}"),
        ("metal_in_receiver", "{:6.1f}"),
    ),
    "feeder": (
        ("hopper_level", "{:5.1f}"),
        ("feed_rate_actual", "{:5.2f}"),
        ("screw_motor_current", "{:5.2f}"),
    ),
    "rectifier": (
        ("line_current", "{:6.3f}"),
        ("line_voltage", "{:6.1f}"),
        ("dc_power", "{:7.1f}"),
    ),
}
STATES = {
    "cell": ("RUN", "FEEDING", "TAPPING", "ANODE_CHANGE", "ANODE_EFFECT", "CUT_OUT", "SHUTDOWN"),
    "rectifier": ("OFF", "RAMP", "REGULATING", "LIMIT", "TRIPPED"),
    "feeder": ("AUTO_TIMER", "AUTO_RESISTANCE", "MANUAL", "OFF"),
}
STATE_TAG = {"cell": "state", "rectifier": "state", "feeder": "mode"}
ALARM_TAG = {"cell": "alarm_word", "rectifier": "alarms", "feeder": "alarms"}
RED, YELLOW, DIM, RESET = "\033[1;31m", "\033[33m", "\033[2m", "\033[0m"


@dataclass
class DeviceView:
    """What the view knows about one device."""

    measurement: str = ""
    values: dict[str, Sample] = field(default_factory=dict)
    samples: int = 0
    errors: int = 0
    last_error: str = ""

    def state(self) -> str:
        names = STATES.get(self.measurement, ())
        sample = self.values.get(STATE_TAG.get(self.measurement, "state"))
        if sample is None or sample.value is None:
            return "?"
        index = int(sample.value)
        return names[index] if 0 <= index < len(names) else str(index)

    def alarms(self) -> int:
        sample = self.values.get(ALARM_TAG.get(self.measurement, ""))
        return int(sample.value) if sample is not None and sample.value is not None else 0


class LiveView:
    """Collects samples (a Gateway observer) and renders them."""

    def __init__(
        self, title: str, stream: TextIO | None = None, status: Callable[[], str] | None = None
    ) -> None:
        self.title = title
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
            view.measurement = sample.point.measurement
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
        for tag, fmt in KEY_TAGS.get(view.measurement, ()):
            sample = view.values.get(tag)
            if sample is None:
                continue
            text = "BAD" if sample.value is None else fmt.format(sample.value)
            shown.append(f"{text} {sample.point.unit}".rstrip())
        state, alarms = view.state(), view.alarms()
        row = f"{name:<15}{state:<16}{'  '.join(shown):<58}{rate:6.0f}{view.errors:6d}" + (
            f"  alarms 0x{alarms:04x}" if alarms else ""
        )
        if not self.tty:
            return row
        if state in ("ANODE_EFFECT", "TRIPPED", "LIMIT"):
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
        """One line: devices, alarms, anode effects, samples."""
        states = [v.state() for v in self.devices.values()]
        alarmed = sum(1 for v in self.devices.values() if v.alarms())
        samples = sum(v.samples for v in self.devices.values())
        return (
            f"{self.title}: {len(self.devices)} devices, {samples} samples, "
            f"{states.count('ANODE_EFFECT')} in anode effect, {alarmed} with alarms; "
            f"{self.status()}"
        )
