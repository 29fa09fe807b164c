"""Durations in tag maps: a number of seconds, or a string such as "500ms", "2s", "1.5m", "1h",
"7d"."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$")
DURATION_PATTERN = r"^\s*(\d+(\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?\s*$"


def parse_duration(value: Any) -> Any:
    """Turn "500ms" / "2s" / 1.5 into seconds (float); leave other types to pydantic."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like '500ms'")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (examples: 250ms, 1s, 2.5m, 1h, 7d)")
        return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    return value


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
