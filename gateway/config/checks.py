"""Checks every protocol shares, of a validated device, that pydantic cannot express field
by field (a protocol's own checks live in its folder and use these).

Each finding is (path relative to the device, message), the path pointing at the exact field
to fix, e.g. `(("tags", 3, "range"), "low must be less than high (got [5, 1])")`.

A device-level deadband applies to the numeric tags without their own. Its `percent` form
needs a span, so it applies only to tags with a `range` or `scale.eng`; tags without a span
are simply not deadbanded (that is not an error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.config.durations import is_duration, parse_duration_ns
from gateway.config.linechecks import check_field_collisions, check_names
from gateway.config.models import Deadband, DeviceFields, TagFields
from gateway.sinks.lineprotocol import ENCODABLE

Path = tuple[str | int, ...]
Found = list[tuple[Path, str]]


def check_common(device: DeviceFields, positions: Sequence[int] | None = None) -> Found:
    """The checks every protocol shares, for a protocol whose tags are all numeric (a
    protocol with typed tags composes the pieces below itself, as the Modbus one does)."""
    pos = list(range(len(device.tags))) if positions is None else positions
    found: Found = []
    found += deadband_form(device.deadband, ("deadband",))
    found += reserved(device.metadata, ("metadata",))
    for index, tag in enumerate(device.tags):
        own = [
            *check_scale(tag, None),
            *check_deadband(tag, None),
            *check_range(tag, None),
            *check_scan(tag, device),
            *reserved(tag.tags, ("tags",)),
        ]
        found += [(("tags", pos[index], *path), msg) for path, msg in own]
    found += duplicate_names(device.tags, pos)
    found += destinations(device, pos)
    found += check_names(device, pos)
    found += check_field_collisions(device, pos)
    return found


def check_scale(tag: TagFields, kind: str | None) -> Found:
    """`kind`: None for a numeric tag, else the name of its (non-numeric) type."""
    scale = tag.scale
    if scale is None:
        return []
    if kind is not None:
        return [(("scale",), f"scale needs a numeric type, not {kind}")]
    found: Found = []
    if (scale.raw is None) != (scale.eng is None):
        given, absent = ("raw", "eng") if scale.raw is not None else ("eng", "raw")
        found.append((("scale", given), f"{given} needs {absent}: give both ranges or neither"))
    if scale.raw is not None and scale.raw[0] == scale.raw[1]:
        found.append((("scale", "raw"), "raw low and high must differ"))
    if scale.raw is not None or scale.eng is not None:
        for name, default in (("factor", 1.0), ("offset", 0.0)):
            if getattr(scale, name) != default:
                message = f"{name} cannot be combined with raw/eng: use one form or the other"
                found.append((("scale", name), message))
    elif scale.factor == 0:
        found.append((("scale", "factor"), "factor must not be zero"))
    return found


def deadband_form(deadband: Deadband | None, path: Path) -> Found:
    if deadband is not None and (deadband.absolute is None) == (deadband.percent is None):
        return [(path, "give exactly one of absolute or percent")]
    return []


def check_deadband(tag: TagFields, kind: str | None) -> Found:
    deadband = tag.deadband
    if deadband is None:
        return []
    if kind is not None:
        return [(("deadband",), f"deadband needs a numeric type, not {kind}")]
    found = deadband_form(deadband, ("deadband",))
    if not found and deadband.percent is not None and tag.span is None:
        found.append((("deadband", "percent"), "percent needs a span: set range or scale.eng"))
    return found


def check_range(tag: TagFields, kind: str | None) -> Found:
    if tag.range is None:
        return []
    if kind is not None:
        return [(("range",), f"range needs a numeric type, not {kind}")]
    low, high = tag.range
    if not low < high:
        return [(("range",), f"low must be less than high (got [{low:g}, {high:g}])")]
    return []


def check_scan(tag: TagFields, device: DeviceFields) -> Found:
    scan = tag.scan
    if scan is None or (isinstance(scan, str) and scan in device.scan_groups):
        return []
    if isinstance(scan, str) and not is_duration(scan):
        groups = ", ".join(device.scan_groups) or "none defined"
        message = f"{scan!r} is neither a duration (500ms, 2s, ...) nor a scan group of this "
        return [(("scan",), message + f"device (scan_groups: {groups})")]
    if parse_duration_ns(scan) <= 0:
        return [(("scan",), "scan rate must be greater than zero")]
    return []


def reserved(mapping: Mapping[str, str], path: Path) -> Found:
    if "device" in mapping:
        message = "'device' is reserved: the gateway adds device=<device name> itself"
        return [((*path, "device"), message)]
    return []


def duplicate_names(tags: Sequence[TagFields], pos: Sequence[int]) -> Found:
    found: Found = []
    first: dict[str, int] = {}
    for index, tag in enumerate(tags):
        if tag.name in first:
            message = f"duplicate tag name {tag.name!r} (also tags[{pos[first[tag.name]]}])"
            found.append((("tags", pos[index], "name"), message))
        first.setdefault(tag.name, index)
    return found


def destinations(device: DeviceFields, pos: Sequence[int]) -> Found:
    """Two tags writing the same measurement, field and tag set overwrite each other."""
    found: Found = []
    first: dict[tuple[str, str, frozenset[tuple[str, str]]], int] = {}
    for index, tag in enumerate(device.tags):
        measurement = tag.measurement or device.measurement
        field = tag.field or tag.name
        key = (measurement, field, frozenset({**device.metadata, **tag.tags}.items()))
        earlier = first.setdefault(key, index)
        if earlier != index and device.tags[earlier].name != tag.name:
            message = (
                f"tag {device.tags[earlier].name!r} (tags[{pos[earlier]}]) already writes "
                f"measurement {measurement!r}, field {field!r} with the same tags"
            )
            found.append((("tags", pos[index], "field"), message))
    return found


def unencodable(value_types: Sequence[tuple[type, ...]]) -> Found:
    """Tags whose values (as their protocol declares them, one tuple per tag) line protocol
    cannot hold: refused when the map is loaded, so no collector task ever meets one."""
    found: Found = []
    for index, types in enumerate(value_types):
        odd = [t.__name__ for t in types if not issubclass(t, ENCODABLE)]
        if odd:
            message = (
                f"values of type {', '.join(odd)} cannot be written to InfluxDB (line "
                "protocol holds bool, int, float and str)"
            )
            found.append((("tags", index), message))
    return found
