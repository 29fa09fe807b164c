"""Ground truth: record every tag of every device at every step, and replay a recording.

The record is line protocol, one line per device and step:
``cell,device=cell01 cell_voltage=8.61,state=0i,bath_temp_status="BadSensorFailure" <ns>``
Floats are written with repr(), so they read back bit-identical. A tag whose sensor is failed
carries a `<tag>_status` field with its OPC UA status name. The values are the plant's true
ones; while a data-quality fault (sensorfaults.py) acts on a tag, a `<tag>_reported` field
holds what the PLCs serve instead, and a skewed clock adds `clock_skew_s` to its device.
`every` thins the record to one instant per interval of simulated time; a FILE ending in
`.gz` is written (and read) gzip-compressed. What the operators did is a line of its own at
the instant they did it, never thinned:
``operator_event,device=cell03,action=tapped detail="34.5 kg",metal_kg=34.52 <ns>``

`ReplayPlant` reads a record and offers the same read interface as `Plant`, so the Modbus and
OPC UA servers serve a recorded run as the plant ran it: the true values (a data-quality
fault's `<tag>_reported` values are in the record, but a replay does not serve them).
"""

from __future__ import annotations

import functools
import gzip
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from gateway.model import escape_key
from gateway.sinks.lineprotocol import format_field, parse_line
from simulators.sensorfaults import SensorFaults

Values = dict[str, int | float | bool | str]
EVENT = "operator_event"  # the measurement of the crew's actions


class CrewAction(Protocol):
    """What the recorder needs of `simulators.process.operators.Action`."""

    @property
    def device(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def fields(self) -> tuple[tuple[str, float], ...]: ...


def event_line(action: CrewAction, time_ns: int) -> str:
    """One operator action: its name (spaces as `_`) a tag, its detail and numbers fields."""
    name = escape_key(action.action.replace(" ", "_"))
    fields = [format_field("detail", action.detail)]
    fields += [format_field(escape_key(k), float(v)) for k, v in action.fields]
    text = ",".join(f for f in fields if f)
    return f"{EVENT},device={escape_key(action.device)},action={name} {text} {time_ns}"


_key = functools.lru_cache(maxsize=4096)(escape_key)  # the same few tag names, every line


def _field(key: str, value: object) -> str | None:
    """format_field, with the record's common cases (a float, a plain int) first: a week's
    record formats a million of them."""
    if type(value) is float:
        return f"{key}={value!r}" if math.isfinite(value) else None
    if type(value) is int:
        return f"{key}={value}i"
    return format_field(key, value)


def record_line(kind: str, device: str, values: Values, bad: dict[str, str], time_ns: int) -> str:
    """One device's values at one instant."""
    fields = [_field(_key(k), v) for k, v in values.items()]
    fields += [format_field(f"{_key(k)}_status", status) for k, status in bad.items()]
    return f"{kind},device={escape_key(device)} {','.join(f for f in fields if f)} {time_ns}"


class Recorder:
    """Appends the plant's state after every step, or with `every` (simulated seconds) the
    first step of each interval counted from the first record."""

    def __init__(
        self, path: str | Path, every: float | None = None, sensors: SensorFaults | None = None
    ) -> None:
        if every is not None and not every > 0:
            raise ValueError(f"--record-every must be longer than 0 s, not {every!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw: IO[bytes] | None = None
        if self.path.suffix == ".gz":  # no name or time in the header: identical per seed
            self._raw = self.path.open("wb")
            packed = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
            self._file: IO[str] = io.TextIOWrapper(packed, encoding="utf-8")
        else:
            self._file = self.path.open("w", encoding="utf-8", buffering=1 << 16)
        self.every_ns = None if every is None else round(every * 1e9)
        self.sensors = sensors
        self._first_ns: int | None = None
        self._next_ns = 0

    def _due(self, time_ns: int) -> bool:
        if self.every_ns is None:
            return True
        if self._first_ns is None:
            self._first_ns = time_ns
        if time_ns < self._next_ns:
            return False
        intervals = (time_ns - self._first_ns) // self.every_ns + 1
        self._next_ns = self._first_ns + intervals * self.every_ns
        return True

    def record(self, plant: object, time_ns: int) -> None:
        """Write every device of `plant` (a Plant or a ReplayPlant) at `time_ns`."""
        if not self._due(time_ns):
            return
        for device in plant.device_names():  # type: ignore[attr-defined]
            kind = plant.kind(device)  # type: ignore[attr-defined]
            values = plant.values(device)  # type: ignore[attr-defined]
            bad = plant.bad(device)  # type: ignore[attr-defined]
            if self.sensors is not None:
                values = self._with_reported(device, values, plant.t)  # type: ignore[attr-defined]
            self._file.write(record_line(kind, device, values, bad, time_ns) + "\n")

    def event(self, action: CrewAction, time_ns: int) -> None:
        """Write one operator action (with `every` too: events are never thinned)."""
        self._file.write(event_line(action, time_ns) + "\n")

    def _with_reported(self, device: str, values: Values, t: float) -> Values:
        assert self.sensors is not None
        reported = self.sensors.reported(device, values, t)
        out = dict(values)
        for tag in self.sensors.faulted(device):
            if self.sensors.active(device, tag, t):
                out[f"{tag}_reported"] = reported[tag]
        skew = self.sensors.clock_offset(device, t)
        if skew:
            out["clock_skew_s"] = skew
        return out

    def close(self) -> None:
        self._file.close()
        if self._raw is not None:  # GzipFile leaves the file it was given open
            self._raw.close()


Frame = dict[str, tuple[str, Values, dict[str, str]]]


def _open_text(path: str | Path) -> IO[str]:
    if str(path).endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8")
    return Path(path).open(encoding="utf-8")


def read_frames(path: str | Path) -> Iterator[tuple[int, Frame]]:
    """(time_ns, {device: (kind, values, bad)}) per instant, in file order."""
    frame: Frame = {}
    current: int | None = None
    with _open_text(path) as handle:
        for line in handle:
            if not line.strip():
                continue
            kind, tags, fields, ts = parse_line(line.rstrip("\n"))
            if kind == EVENT:  # not a device's state
                continue
            if current is not None and ts != current:
                yield current, frame
                frame = {}
            current = ts
            values: Values = {}
            bad: dict[str, str] = {}
            for key, value in fields.items():
                if key.endswith("_status") and key[:-7] in fields:
                    bad[key[:-7]] = str(value)
                else:
                    values[key] = value  # type: ignore[assignment]
            frame[tags["device"]] = (kind, values, bad)
    if current is not None:
        yield current, frame


class ReplayPlant:
    """A recorded run, stepped like a Plant (read-only)."""

    def __init__(self, path: str | Path) -> None:
        self.frames = list(read_frames(path))
        if not self.frames:
            raise ValueError(f"{path}: no recorded data")
        self.recorded_start_ns = self.frames[0][0]  # picks the frames; not the runner's epoch
        self.t = 0.0
        self._index = 0
        self.state = dict(self.frames[0][1])

    @property
    def duration(self) -> float:
        """Simulated seconds from the first to the last recorded instant."""
        return (self.frames[-1][0] - self.recorded_start_ns) / 1e9

    def step(self, dt: float = 1.0) -> None:
        self.t += dt
        limit = self.recorded_start_ns + round(self.t * 1e9)
        while self._index + 1 < len(self.frames) and self.frames[self._index + 1][0] <= limit:
            self._index += 1
            self.state.update(self.frames[self._index][1])

    def device_names(self) -> list[str]:
        return list(self.state)

    def kind(self, device: str) -> str:
        return self.state[device][0]

    def values(self, device: str) -> Values:
        return self.state[device][1]

    def bad(self, device: str) -> dict[str, str]:
        return self.state[device][2]

    FAULTS: tuple[str, ...] = ()

    def write(self, device: str, tag: str, value: object) -> None:
        raise ValueError("a replayed run is read-only")

    def _read_only(self, *_: object) -> None:
        raise ValueError("a replayed run is read-only")

    inject = clear = tap = change_anode = reset_rectifier = _read_only


def ground_truth(path: str | Path, device: str, tag: str) -> list[tuple[int, object]]:
    """(time_ns, value) of one tag over a record, for comparing with what a gateway wrote."""
    return [(ts, frame[device][1][tag]) for ts, frame in read_frames(path) if device in frame]
