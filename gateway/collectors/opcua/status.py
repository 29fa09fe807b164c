"""OPC UA StatusCode -> sample quality and reason.

Runs once per notification, so the answer for each distinct code is computed once and kept in
a small table: the hot path is one dict lookup. The severity is the code's top two bits (Part 4,
7.39): 00 Good, 01 Uncertain, 10 Bad (11 is reserved and taken as Bad). The reason is the
status name of the code without its info bits (the low 16 bits: overflow, limit, semantics
changed), e.g. "BadSensorFailure"; a code this asyncua does not know is written as its hex
value ("0x80AB1234"). Plain Good (0) has the reason "", other Good codes keep their name
(e.g. "GoodClamped") so that what the server said is not lost.
"""

from __future__ import annotations

from collections.abc import Callable

from asyncua import ua
from asyncua.ua import status_codes

from gateway.model import Quality

GOOD: tuple[Quality, str] = (Quality.GOOD, "")

_SEVERITY = (Quality.GOOD, Quality.UNCERTAIN, Quality.BAD, Quality.BAD)
_CACHE_LIMIT = 4096  # distinct codes are few; a misbehaving server cannot grow this forever
_cache: dict[int, tuple[Quality, str]] = {0: GOOD}


lookup: Callable[[int], tuple[Quality, str] | None] = _cache.get
"""The cached answer for a raw code, or None (then `quality_of_code`): a lookup without a
Python call, for the per-value readers."""


def status_name(code: int) -> str:
    """The status name of `code` without its info bits, or its hex value when unknown."""
    base = code & 0xFFFF0000
    known = status_codes.code_to_name_doc.get(base)
    return known[0] if known else f"0x{code:08X}"


def _classify(code: int) -> tuple[Quality, str]:
    quality = _SEVERITY[(code >> 30) & 0b11]
    result = GOOD if code == 0 else (quality, status_name(code))
    if len(_cache) < _CACHE_LIMIT:
        _cache[code] = result
    return result


def quality_of_code(code: int) -> tuple[Quality, str]:
    """(quality, reason) of a raw 32-bit status code."""
    found = _cache.get(code)
    return found if found is not None else _classify(code)


def quality_of(status: ua.StatusCode | None) -> tuple[Quality, str]:
    """(quality, reason) of a DataValue's StatusCode (None, as OPC UA omits it, is Good)."""
    if status is None:
        return GOOD
    code = status.value
    found = _cache.get(code)
    return found if found is not None else _classify(code)
