"""Warnings: valid tag maps that probably do not do what was meant.

Each finding is (path relative to the device, message), like the problems of `checks.py`. They
are reported by `gateway check` (which still exits 0) and logged once when the gateway starts.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.collectors.modbus.types import Space
from gateway.config.checks import Found, Path
from gateway.config.compile import scan_interval_ns
from gateway.config.durations import format_duration
from gateway.config.models import ModbusDevice, ModbusTag
from gateway.sinks.lineprotocol import Precision

#: space -> (number of its first register in Modicon notation, prefix, what the manual calls it)
MODICON = {
    Space.DISCRETE_INPUT: (10001, "1x", "discrete input"),
    Space.INPUT_REGISTER: (30001, "3x", "input register"),
    Space.HOLDING_REGISTER: (40001, "4x", "holding register"),
}
#: 0x (coils 00001-09999) cannot be told from plain addresses: YAML reads 00017 as 17

_UNIT_WORDS = {Precision.S: "second", Precision.MS: "millisecond", Precision.US: "microsecond"}


def device_warnings(device: ModbusDevice, positions: Sequence[int] | None = None) -> Found:
    """Warnings of a device's own fields (`positions` as in `check_device`)."""
    pos = list(range(len(device.tags))) if positions is None else positions
    found: Found = []
    for index, tag in enumerate(device.tags):
        found += [(("tags", pos[index], *path), msg) for path, msg in modicon_address(tag)]
    return found


def modicon_address(tag: ModbusTag) -> Found:
    """An address such as 40001 copied from a manual's 4x numbering (first register 40001)."""
    known = MODICON.get(tag.space)
    if known is None:
        return []
    first, prefix, called = known
    if not first <= tag.address <= first + 9998:
        return []
    message = (
        f"{tag.address} looks like Modicon {prefix} notation, where {called} {first} is "
        f"address 0: address is 0-based, so this is probably address: {tag.address - first}"
    )
    return [(("address",), message)]


def precision_warnings(device: ModbusDevice, precision: Precision, given_at: str) -> Found:
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


def _rate_source(tag: ModbusTag, device: ModbusDevice, index: int) -> Path:
    if tag.scan is None:
        return ("scan_rate",)
    if isinstance(tag.scan, str) and tag.scan in device.scan_groups:
        return ("scan_groups", tag.scan)
    return ("tags", index, "scan")
