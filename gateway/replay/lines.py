"""Recorded lines, pure: validate one line cheaply, say why a line is malformed, find and
shift its timestamp, and tell the timestamp precision of a file from its magnitude.

Validation is one compiled regular expression over the whole line (measurement, tags, fields
with typed values, timestamp), escapes read as InfluxDB reads them; only a line it refuses
goes through the slower `diagnose`, which names the part at fault. A line without a timestamp
is malformed here: the database would stamp it with its arrival time, so replaying it twice
would store two points.
"""

from __future__ import annotations

import re

from gateway.sinks.lineprotocol import Precision

__all__ = ["INT64", "check", "detect_precision", "diagnose", "in_range", "is_data", "shifted"]

_MEASUREMENT = r"(?:[^,\s\\#]|\\.)(?:[^,\s\\]|\\.)*"  # `#` first would make it a comment
_KEY = r"(?:[^,=\s\\]|\\.)+"  # tag key, tag value, field key
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_BOOL = r"t|T|true|True|TRUE|f|F|false|False|FALSE"
_VALUE = rf'(?:[-+]?\d+i|\d+u|{_NUMBER}|"(?:[^"\\]|\\.)*"|{_BOOL})'
_FIELD = rf"{_KEY}={_VALUE}"
# ASCII: `\d` and `\s` as line protocol means them (int() would take other digits too)
# The timestamp: at most 19 digits, so int() of it is cheap; `in_range` then bounds it.
_STAMP = r"(-?\d{1,19})"
_LINE = re.compile(rf"{_MEASUREMENT}(?:,{_KEY}={_KEY})* {_FIELD}(?:,{_FIELD})* {_STAMP}", re.ASCII)
_TYPED = re.compile(_VALUE, re.ASCII)


def is_data(line: str) -> bool:
    """Not a blank line nor a `#` comment (line protocol's own)."""
    stripped = line.lstrip()
    return bool(stripped) and not stripped.startswith("#")


# InfluxDB stores a time as signed 64-bit nanoseconds (1677-09-21 to 2262-04-11); negative
# times, before 1970, are valid there and here.
INT64 = range(-(2**63), 2**63)


def in_range(ns: int) -> bool:
    """A time InfluxDB can store (signed 64-bit nanoseconds)."""
    return ns in INT64


def check(line: str, divisor: int = 1) -> int | None:
    """Where the timestamp of a well-formed line starts; None for a malformed one, or one
    whose timestamp, times `divisor` (to ns), is beyond int64."""
    match = _LINE.fullmatch(line)
    if match is None or not in_range(int(match.group(1)) * divisor):
        return None
    return match.start(1)


def shifted(line: str, start: int, offset: int) -> str:
    """The line with `offset` added to its timestamp (which starts at `start`)."""
    if not offset:
        return line
    return f"{line[:start]}{int(line[start:]) + offset}"


def timestamp(line: str, start: int) -> int:
    return int(line[start:])


# Plausible Unix times, 1973-03 to 2286-11, in each precision (timestamp / 10**k).
_RANGES = ((Precision.S, 0), (Precision.MS, 3), (Precision.US, 6), (Precision.NS, 9))


def detect_precision(first: int) -> Precision:
    """The precision under which `first` (a file's first timestamp) is a date between 1973
    and 2286; ns (line protocol's default) when it is none of them."""
    for precision, digits in _RANGES:
        if 10**8 <= abs(first) / 10**digits < 10**10:
            return precision
    return Precision.NS


# -- why a line is malformed (slow path: only for lines `check` refused) ---------------------


def _split(text: str, separator: str, quotes: bool) -> list[str]:
    """`text` split at each `separator` not escaped by a backslash (nor inside a quoted
    string, when `quotes`)."""
    parts, start, i, quoted = [], 0, 0, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if quotes and char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _pair(text: str) -> tuple[str, str] | None:
    """key=value at the first unescaped `=`; None without one."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "=":
            return text[:i], text[i + 1 :]
        i += 1
    return None


def _short(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _unescaped_quotes(text: str) -> int:
    return text.count('"') - text.count('\\"')


def diagnose(line: str, divisor: int = 1) -> str:
    """A short reason why `line` is not line protocol with a timestamp (that, times
    `divisor`, is a time InfluxDB can store)."""
    sections = _split(line, " ", quotes=True)
    if len(sections) < 2 or "=" not in sections[1]:
        return "no fields"
    if len(sections) == 2:
        if _unescaped_quotes(sections[1]) % 2:  # the field set's last string never closed
            return "a string field's closing quote is missing"
        return "no timestamp (a replayed line needs the time it was recorded at)"
    if len(sections) > 3:
        return "more than three space-separated parts (an unescaped space?)"
    head, fields, stamp = sections
    reason = _head_problem(head) or _fields_problem(fields)
    if reason:
        return reason
    if not re.fullmatch(r"-?[0-9]+", stamp):
        return f"bad timestamp {_short(stamp)} (an integer is needed)"
    if len(stamp.lstrip("-")) > 19 or int(stamp) * divisor not in INT64:
        return f"timestamp {_short(stamp)} is outside InfluxDB's range (64-bit nanoseconds)"
    return "does not parse as line protocol"


def _head_problem(head: str) -> str | None:
    measurement, *tags = _split(head, ",", quotes=False)
    if not measurement:
        return "no measurement"
    for tag in tags:
        pair = _pair(tag)
        if pair is None or not pair[0] or not pair[1]:
            return f"bad tag {_short(tag)} (key=value expected)"
    return None


def _fields_problem(fields: str) -> str | None:
    for field in _split(fields, ",", quotes=True):
        pair = _pair(field)
        if pair is None or not pair[0]:
            return f"bad field {_short(field)} (key=value expected)"
        if not _TYPED.fullmatch(pair[1]):
            return f"bad value of field {_short(pair[0])}: {_short(pair[1])}"
    return None
