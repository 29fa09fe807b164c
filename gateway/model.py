"""The unit that flows: a Sample of one tag, with its quality and timestamp.

`Point` is the static identity of a tag as it lands in the database; it is built once at
compile time with its line-protocol series key pre-escaped, so the hot path only formats the
value. `Sample` is one reading of a point.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass

Value = float | int | bool | str


class Quality(enum.IntEnum):
    """Quality of a sample, ordered from best to worst (stored as this integer)."""

    GOOD = 0
    UNCERTAIN = 1
    BAD = 2


def escape(text: str, pairs: tuple[tuple[str, str], ...]) -> str:
    """`text` with each character of `pairs` replaced by its escape (only those present)."""
    for char, escaped in pairs:
        if char in text:
            text = text.replace(char, escaped)
    return text


_NEWLINE = ("\n", "\\n")
KEY_ESCAPES = ((",", "\\,"), ("=", "\\="), (" ", "\\ "), _NEWLINE)
MEASUREMENT_ESCAPES = ((",", "\\,"), (" ", "\\ "), _NEWLINE)
STRING_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), _NEWLINE)  # the backslash first


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key for line protocol.

    Exactly what InfluxDB's parser undoes there: a backslash before comma, equals sign and
    space. A backslash is otherwise kept literally by InfluxDB, so it is not doubled (a
    doubled one would be stored twice). What line protocol cannot carry (a trailing
    backslash, a newline) is refused by `gateway check`; a newline that reaches the encoder
    anyway is written as the two characters ``\\n`` so that one record stays one line.
    """
    return escape(text, KEY_ESCAPES)


def escape_measurement(text: str) -> str:
    """Escape a measurement name: commas and spaces only ('=' is literal there)."""
    return escape(text, MEASUREMENT_ESCAPES)


@dataclass(frozen=True, slots=True, eq=False)
class Point:
    """Where one tag lands: measurement, tag set and field name.

    `series` is the escaped line-protocol prefix ``measurement,k=v,...`` with tag keys sorted.
    `unsigned` points (uint64 tags) write their integers as unsigned (``u``): InfluxDB's
    integers are signed 64-bit, and a field must keep one type, so it applies to every value.
    `float32` points (values read as IEEE float32) write each float with the fewest digits that
    read back as the same float32 (at most 9 significant), not with the 17 of a float64.
    Points are built once at compile time and compared by identity, so they are cheap dict keys
    on the hot path.
    """

    device: str
    tag: str
    measurement: str
    field: str
    tags: tuple[tuple[str, str], ...] = ()
    unit: str = ""
    series: str = dataclasses.field(default="", compare=False)
    field_key: str = dataclasses.field(default="", compare=False)
    unsigned: bool = False
    float32: bool = False

    @classmethod
    def build(
        cls,
        device: str,
        tag: str,
        measurement: str,
        field_name: str,
        tags: dict[str, str],
        unit: str = "",
        *,
        unsigned: bool = False,
        float32: bool = False,
    ) -> Point:
        """Build a point with its escaped series key (tag keys sorted, empty values dropped)."""
        items = tuple(sorted((k, v) for k, v in tags.items() if v != ""))
        series = escape_measurement(measurement) + "".join(
            f",{escape_key(k)}={escape_key(v)}" for k, v in items
        )
        key = escape_key(field_name)
        return cls(
            device, tag, measurement, field_name, items, unit, series, key, unsigned, float32
        )


class Unsigned(int):
    """An integer written to InfluxDB as unsigned (``u``): a value whose type is known only at
    run time to be unsigned 64-bit (an OPC UA UInt64 node), where a Modbus uint64 tag's Point
    says so at compile time (`Point.unsigned`)."""

    __slots__ = ()


@dataclass(slots=True)
class Sample:
    """One reading of a point.

    `value` is None when the quality is BAD: a bad reading is never written as if good.
    `time_ns` is the source timestamp (when the value was read), in Unix nanoseconds.
    """

    point: Point
    value: Value | None
    quality: Quality
    time_ns: int
    reason: str = ""


def bad(point: Point, time_ns: int, reason: str) -> Sample:
    """A BAD sample: no value, a reason."""
    return Sample(point, None, Quality.BAD, time_ns, reason)


@dataclass(frozen=True, slots=True, eq=False)
class TagPlan:
    """What the pipeline needs of one compiled tag, whatever its protocol. A protocol's own
    tag plan extends it with how to read the value."""

    point: Point
    scale: tuple[float, float] | None  # (factor, offset)
    range: tuple[float, float] | None
    deadband: float | None  # absolute threshold in engineering units; None = every sample
    heartbeat_s: float | None


@dataclass(slots=True)
class Encoded:
    """The lines of one response that a collector encoded itself, without their timestamp:
    GOOD, finite values of tags no pipeline stage changes (see `gateway.pipeline.plain`).
    The core appends the timestamp in its precision (`gateway.sinks.lineprotocol.stamp`)."""

    time_ns: int
    heads: list[str]  # "series fields" of each line
    count: int  # values in the lines


Part = list[Sample] | Callable[[], list[Sample]]


class Batch:
    """What a collector hands over for one scan: `samples` go through the pipeline, `encoded`
    lines go straight to the buffers. `readings()` gives every reading of the batch as
    Samples, in read order (the objects of `samples` themselves, scaled and qualified in
    place by the pipeline; the encoded values built only when asked, for observers)."""

    __slots__ = ("_parts", "encoded", "samples")

    def __init__(self, samples: list[Sample] | None = None) -> None:
        self.samples: list[Sample] = []
        self.encoded: list[Encoded] = []
        self._parts: list[Part] = []
        if samples:
            self.add(samples)

    def add(self, samples: list[Sample]) -> None:
        """Samples for the pipeline (failed reads, tags with rules, BAD values...)."""
        self.samples += samples
        self._parts.append(samples)

    def add_encoded(
        self, encoded: Encoded, samples: list[Sample], readings: Callable[[], list[Sample]]
    ) -> None:
        """One response: its encoded lines, its `samples` for the pipeline, and how to build
        all its readings (those samples included, in read order) when an observer asks."""
        self.encoded.append(encoded)
        self.samples += samples
        self._parts.append(readings)

    @property
    def count(self) -> int:
        """Readings in the batch."""
        return len(self.samples) + sum(e.count for e in self.encoded)

    def readings(self) -> list[Sample]:
        """Every reading as a Sample, in read order."""
        out: list[Sample] = []
        for part in self._parts:
            out += part if isinstance(part, list) else part()
        return out
