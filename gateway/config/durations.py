"""Durations in tag maps: a number of seconds, or a string such as "500ms", "2s", "1.5m", "1h",
"7d".

A duration is parsed exactly into whole nanoseconds (decimal arithmetic, no binary float on
the way), so `700ms`, `0.7s`, `0.7` and `700 ms` are one and the same count. Models hold
seconds as a float derived from that count (`ns / 10**9`, one correctly rounded division), so
equal durations are equal floats, and `duration_ns` turns such a float back into the exact
count (for anything shorter than about 100 days, where a float resolves below 1 ns). Scans are
grouped by that integer, never by comparing floats.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

NS_PER_S = 10**9
_UNIT_NS = {
    "ms": 10**6,
    "s": NS_PER_S,
    "m": 60 * NS_PER_S,
    "h": 3600 * NS_PER_S,
    "d": 86400 * NS_PER_S,
}
#: the one spelling of a duration string (also the JSON Schema's pattern)
DURATION_PATTERN = r"^\s*(\d+(\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$"
_PATTERN = re.compile(DURATION_PATTERN)
_EXAMPLES = "examples: 250ms, 1s, 2.5m, 1h, 7d"


def _whole(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_EVEN))


def parse_duration_ns(value: Any) -> int:
    """Whole nanoseconds of a duration: seconds (int or float) or a string with a unit.

    Raises ValueError for anything else. A float is taken as the decimal it was written as
    (`0.7` is 0.7 s, not the binary float just below it).
    """
    if isinstance(value, bool):
        raise ValueError(f"a duration is a number of seconds or a string ({_EXAMPLES})")
    if isinstance(value, int):
        return value * NS_PER_S
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a duration must be a finite number")
        return _whole(Decimal(repr(value)) * NS_PER_S)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration ({_EXAMPLES})")
        return _whole(Decimal(match.group(1)) * _UNIT_NS[match.group(3) or "s"])
    raise ValueError(f"a duration is a number of seconds or a string ({_EXAMPLES})")


def parse_duration(value: Any) -> Any:
    """Turn "500ms" / "2s" / 1.5 into seconds (float); ValueError for what is no duration."""
    if isinstance(value, float) and not math.isfinite(value):
        return value  # pydantic answers "Input should be a finite number"
    return parse_duration_ns(value) / NS_PER_S


def duration_ns(seconds: float) -> int:
    """The exact nanoseconds of seconds that came from `parse_duration` (or any float)."""
    return _whole(Decimal(seconds) * NS_PER_S)


def is_duration(text: str) -> bool:
    """True when `text` parses as a duration."""
    return bool(_PATTERN.match(text))


_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ],
    "description": "seconds, or a string such as '500ms', '2s', '1m', '1h'",
}

#: a strictly positive duration in seconds
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_SCHEMA)]


def format_duration(ns: int) -> str:
    """Nanoseconds as the shortest tag-map spelling: 2s, 250ms, 0.5ms."""
    if ns % NS_PER_S == 0:
        return f"{ns // NS_PER_S}s"
    millis = Decimal(ns) / 10**6
    return f"{millis.normalize():f}ms"
