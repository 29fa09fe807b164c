"""Warnings every protocol shares: valid tag maps that probably do not do what was meant.

Each finding is (path relative to the device, message), like the problems of `checks.py`. They
are reported by `gateway check` (which still exits 0) and logged once when the gateway starts.
"""

from __future__ import annotations

from gateway.config.checks import Found, Path
from gateway.config.durations import format_duration
from gateway.config.models import DeviceFields, TagFields
from gateway.config.tagplan import scan_interval_ns
from gateway.sinks.lineprotocol import Precision

_UNIT_WORDS = {Precision.S: "second", Precision.MS: "millisecond", Precision.US: "microsecond"}


def precision_warnings(device: DeviceFields, precision: Precision, given_at: str) -> Found:
    """Scan rates finer than the timestamp precision: samples of one series in the same
    second (for `s`) get one timestamp, so InfluxDB keeps only the last of them.

    One warning per rate, at the field the rate comes from (first tag using it).
    """
    divisor = precision.divisor
    found: Found = []
    seen: set[int] = set()
    for index, tag in enumerate(device.tags):
        try:
            rate = scan_interval_ns(tag, device)
        except ValueError:  # not a duration: a problem of its own (checks.py)
            continue
        if not 0 < rate < divisor or rate in seen:
            continue
        seen.add(rate)
        finer = next(p for p in (Precision.MS, Precision.US, Precision.NS) if p.divisor <= rate)
        message = (
            f"scan rate {format_duration(rate)} is finer than the timestamp precision "
            f"(sinks.precision: {precision.value}, {given_at}): samples of one series within "
            f"the same {_UNIT_WORDS[precision]} get the same timestamp and overwrite each other "
            f"in InfluxDB; use sinks.precision: {finer.value}"
        )
        found.append((_rate_source(tag, device, index), message))
    return found


def _rate_source(tag: TagFields, device: DeviceFields, index: int) -> Path:
    if tag.scan is None:
        return ("scan_rate",)
    if isinstance(tag.scan, str) and tag.scan in device.scan_groups:
        return ("scan_groups", tag.scan)
    return ("tags", index, "scan")
