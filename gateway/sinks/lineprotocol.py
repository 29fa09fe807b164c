"""Samples to InfluxDB line protocol, encoded once, plus a small parser for tests and helpers.

Schema, per sample of a point (see README.md in this package):

* ``<field>=<value>`` when the value is not None (bool ``true``/``false``, int ``<n>i``, or
  ``<n>u`` for an unsigned point (uint64 tags), float ``repr()``, or for a float32 point the
  fewest digits that read back as the same float32 (`floats.py`); NaN and infinities are
  omitted, str double-quoted);
* ``<field>_quality=<0|1|2>i`` always (GOOD, UNCERTAIN, BAD);
* ``<field>_reason="..."`` when the quality is not GOOD and there is a reason.

Consecutive samples of the same series with the same (converted) timestamp share one line.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable

from gateway.model import STRING_ESCAPES, Encoded, Quality, Sample, Unsigned, escape
from gateway.sinks.floats import float32_text

__all__ = ["Precision", "encode_lines", "escape_string", "format_field", "parse_line", "stamp"]

_DIVISORS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


class Precision(enum.StrEnum):
    """Timestamp precision of the lines (the ``precision`` parameter of /api/v2/write)."""

    NS = "ns"
    US = "us"
    MS = "ms"
    S = "s"

    @property
    def divisor(self) -> int:
        """What a nanosecond timestamp is divided by (floor) to get this precision."""
        return _DIVISORS[self.value]


# Indexed by Quality (an IntEnum): the integer value of the `_quality` field.
_QUALITY_VALUES = tuple(f"_quality={int(q)}i" for q in Quality)


def escape_string(text: str) -> str:
    """Escape a string field value (without its quotes).

    Backslash and double quote are escaped as line protocol requires. Line protocol does not
    allow a newline inside a field value, so a newline is written as the two characters ``\\n``
    (InfluxDB then stores a backslash and an ``n``); one record is always one physical line.
    """
    return escape(text, STRING_ESCAPES)


#: the Python types of values line protocol holds; each protocol declares its tags' value
#: types, and the loader refuses any other (`gateway.config.checks.unencodable`)
ENCODABLE: tuple[type, ...] = (bool, int, float, str)


class _Unencodable:
    """How many values of a type line protocol cannot hold reached the encoder (a
    protocol's checks refuse such tags at load, so this stays 0 unless a collector has a
    bug). Exported as the metric `gateway_unencodable_values_total`."""

    count = 0


UNENCODABLE = _Unencodable()


def format_field(key: str, value: object) -> str | None:
    """``key=value`` in line protocol; None for what it cannot hold (a non-finite float, or a
    value of another type than bool, int, float and str). Never raises: it runs in the hot
    path of a collector's task."""
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    if isinstance(value, Unsigned):
        return f"{key}={int(value)}u"
    if isinstance(value, int):
        return f"{key}={int(value)}i"
    if isinstance(value, float):
        return f"{key}={float.__repr__(float(value))}" if math.isfinite(value) else None
    if isinstance(value, str):
        return f'{key}="{escape_string(str(value))}"'
    return None


def encode_lines(samples: Iterable[Sample], precision: Precision = Precision.MS) -> list[str]:
    """Encode samples into line-protocol lines (no trailing newline), in one pass.

    Consecutive samples with the same series and the same timestamp (after conversion to
    `precision`) are merged into one line, their fields joined with commas. A value of a type
    line protocol cannot hold is written as a BAD sample (no value, the type as its reason)
    and counted in `UNENCODABLE`, never raised.
    """
    divisor = _DIVISORS[Precision(precision).value]
    quality_values = _QUALITY_VALUES
    lines: list[str] = []
    append = lines.append
    series: str | None = None
    stamp = 0
    fields: list[str] = []  # the field parts of the line being built, joined with commas
    for sample in samples:
        point = sample.point
        key = point.field_key
        value = sample.value
        kind = type(value)
        quality, reason = sample.quality, sample.reason
        if value is None:
            part = ""
        elif kind is float:
            part = _float(key, value, point.float32)  # type: ignore[arg-type]
        elif kind is int:
            part = f"{key}={value}u," if point.unsigned else f"{key}={value}i,"
        elif kind is bool:
            part = f"{key}=true," if value else f"{key}=false,"
        elif kind is str:
            part = f'{key}="{escape_string(value)}",'  # type: ignore[arg-type]
        else:
            part, why = _other(key, value)
            if why:
                quality, reason = Quality.BAD, why
        part = f"{part}{key}{quality_values[quality]}"
        if quality and reason:
            part = f'{part},{key}_reason="{escape_string(reason)}"'
        ts = sample.time_ns // divisor
        if point.series == series and ts == stamp:
            fields.append(part)
        else:
            if fields:
                append(f"{series} {','.join(fields)} {stamp}")
            series = point.series
            stamp = ts
            fields = [part]
    if fields:
        append(f"{series} {','.join(fields)} {stamp}")
    return lines


def _float(key: str, value: float, single: bool) -> str:
    """The field part of a float; "" for NaN and infinities (omitted)."""
    if not math.isfinite(value):
        return ""
    return f"{key}={float32_text(value) if single else repr(value)},"


def stamp(encoded: Iterable[Encoded], precision: Precision = Precision.MS) -> list[str]:
    """The lines a collector encoded (`Encoded.heads`), each with its response's timestamp in
    `precision`: the same lines `encode_lines` makes of the same GOOD samples."""
    divisor = _DIVISORS[Precision(precision).value]
    lines: list[str] = []
    for response in encoded:
        suffix = f" {response.time_ns // divisor}"
        lines += [head + suffix for head in response.heads]
    return lines


def _other(key: str, value: object) -> tuple[str, str]:
    """The field part of a value of a subclass (enums) or of another type, and, for a type
    line protocol cannot hold, the reason of the BAD sample it becomes (counted)."""
    encoded = format_field(key, value)
    if encoded is not None:
        return f"{encoded},", ""
    if isinstance(value, float):  # a non-finite float subclass: omitted, quality kept
        return "", ""
    UNENCODABLE.count += 1
    return "", f"value of type {type(value).__name__} cannot be written"


# ---------------------------------------------------------------------------------------------
# Parsing (tests, memory-sink helpers): correct for what encode_lines produces, not a full
# implementation of every quirk of the InfluxDB parser.

# What InfluxDB's parser unescapes in each part; any other backslash is kept literally.
_MEASUREMENT_ESCAPES = (",", " ")
_TAG_ESCAPES = (",", "=", " ")
_FIELD_KEY_ESCAPES = (",", "=", " ", '"')


def _read_key(line: str, i: int, stops: str, escapes: tuple[str, ...]) -> tuple[str, int]:
    """Read a name (measurement, tag key/value, field key) up to a stop character that is not
    preceded by a backslash, and undo the escapes InfluxDB undoes there."""
    n = len(line)
    start = i
    while i < n:
        if line[i] in stops and (i == start or line[i - 1] != "\\"):
            break
        i += 1
    raw = line[start:i]
    if "\\" in raw:
        for char in escapes:
            raw = raw.replace("\\" + char, char)
    return raw, i


def _read_string(line: str, i: int) -> tuple[str, int]:
    """Read a quoted string starting at the opening quote; return it and the index after it."""
    out: list[str] = []
    i += 1
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] in '\\"':
            out.append(line[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise ValueError(f"unterminated string in line: {line!r}")


def _typed(raw: str, line: str) -> object:
    if raw in ("t", "T", "true", "True", "TRUE"):
        return True
    if raw in ("f", "F", "false", "False", "FALSE"):
        return False
    try:
        if raw[-1:] in ("i", "u"):
            return int(raw[:-1])
        return float(raw)
    except ValueError:
        raise ValueError(f"bad field value {raw!r} in line: {line!r}") from None


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, object], int]:
    """Parse one line into (measurement, tags, fields with typed values, timestamp).

    Escapes are undone as InfluxDB's parser does: ``\\,`` and ``\\<space>`` in the
    measurement, also ``\\=`` in tag keys and values, also ``\\"`` in field keys (any other
    backslash is literal there); ``\\\\`` and ``\\"`` in string field values. Ints
    (``i``/``u`` suffix) become int, booleans bool, other numbers float, quoted values str.
    A timestamp is required.
    """
    measurement, i = _read_key(line, 0, ", ", _MEASUREMENT_ESCAPES)
    if not measurement:
        raise ValueError(f"missing measurement in line: {line!r}")
    tags: dict[str, str] = {}
    while i < len(line) and line[i] == ",":
        key, i = _read_key(line, i + 1, "=, ", _TAG_ESCAPES)
        if i >= len(line) or line[i] != "=":
            raise ValueError(f"bad tag in line: {line!r}")
        tags[key], i = _read_key(line, i + 1, ", ", _TAG_ESCAPES)
    if i >= len(line) or line[i] != " ":
        raise ValueError(f"missing fields in line: {line!r}")
    fields: dict[str, object] = {}
    i += 1
    while True:
        key, i = _read_key(line, i, "= ,", _FIELD_KEY_ESCAPES)
        if not key or i >= len(line) or line[i] != "=":
            raise ValueError(f"bad field in line: {line!r}")
        i += 1
        if line[i : i + 1] == '"':
            fields[key], i = _read_string(line, i)
        else:
            end = i
            while end < len(line) and line[end] not in ", ":
                end += 1
            fields[key] = _typed(line[i:end], line)
            i = end
        if i < len(line) and line[i] == ",":
            i += 1
            continue
        break
    if i >= len(line) or line[i] != " ":
        raise ValueError(f"missing timestamp in line: {line!r}")
    raw = line[i + 1 :]
    if not (raw.isascii() and raw.removeprefix("-").isdigit()):
        raise ValueError(f"bad timestamp in line: {line!r}")
    return measurement, tags, fields, int(raw)
