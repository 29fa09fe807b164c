"""What every protocol's compile step resolves the same way: scan rates, scaling, deadband
thresholds and the Point a tag lands on (from the shared `TagFields` / `DeviceFields`)."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from gateway.config.durations import NS_PER_S, duration_ns, parse_duration_ns
from gateway.config.models import Deadband, DeviceFields, Scaling, TagFields
from gateway.model import Point, TagPlan

_T = TypeVar("_T")


def linear(scale: Scaling | None) -> tuple[float, float] | None:
    """Both scaling forms as (factor, offset); None when the tag is not scaled. Equal
    scalings are one tuple (tags are mostly scaled alike: one tuple per tag costs 56 bytes)."""
    if scale is None:
        return None
    if scale.raw is not None and scale.eng is not None:
        (r0, r1), (e0, e1) = scale.raw, scale.eng
        factor = (e1 - e0) / (r1 - r0)
        return _shared((factor, e0 - r0 * factor))
    if scale.factor == 1.0 and scale.offset == 0.0:
        return None
    return _shared((scale.factor, scale.offset))


def deadband_threshold(tag: TagFields, default: Deadband | None, numeric: bool) -> float | None:
    """Absolute threshold, or None for "write every sample" (always for non-numeric tags)."""
    band = tag.deadband or default
    if band is None or not numeric:
        return None
    if band.absolute is not None:
        return band.absolute
    span = tag.span
    if band.percent is None or span is None:
        return None
    return abs(span[1] - span[0]) * band.percent / 100.0


def scan_interval_ns(tag: TagFields, device: DeviceFields) -> int:
    """The tag's scan rate in whole nanoseconds: its own, its group's, or the device default.

    Scans are grouped by this integer, so equal rates written differently are one scan.
    """
    if tag.scan is None:
        return duration_ns(device.scan_rate)
    if isinstance(tag.scan, str) and tag.scan in device.scan_groups:
        return duration_ns(device.scan_groups[tag.scan])
    return parse_duration_ns(tag.scan)


def scan_interval(tag: TagFields, device: DeviceFields) -> float:
    """The tag's scan rate in seconds."""
    return scan_interval_ns(tag, device) / NS_PER_S


def point_of(tag: TagFields, device: DeviceFields, unsigned: bool = False) -> Point:
    """The Point a tag lands on: measurement, field and tags resolved against its device.

    The tags of a device's points are mostly the same: equal tag sets and series keys are
    one object each (100,000 tags would otherwise hold 100,000 copies).
    """
    tags = {"device": device.name, **device.metadata, **tag.tags}
    point = Point.build(
        device.name,
        tag.name,
        tag.measurement or device.measurement,
        tag.field or tag.name,
        tags,
        tag.unit,
        unsigned=unsigned,
    )
    shared_tags, series = _shared(point.tags), _shared(point.series)
    if shared_tags is point.tags and series is point.series:
        return point
    return dataclasses.replace(point, tags=shared_tags, series=series)


_SHARED: dict[Any, Any] = {}
_SHARED_MAX = 100_000  # distinct tag sets and series kept; beyond, start again


def _shared(value: _T) -> _T:
    """One object per distinct value (of the points compiled lately)."""
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    found: _T = _SHARED.setdefault(value, value)
    return found


def pipeline_plan(tag: TagFields, device: DeviceFields, numeric: bool) -> TagPlan:
    """The neutral plan of a tag (for protocols that need nothing more per tag)."""
    return TagPlan(
        point=point_of(tag, device),
        scale=linear(tag.scale) if numeric else None,
        range=tag.range,
        deadband=deadband_threshold(tag, device.deadband, numeric),
        heartbeat_s=tag.heartbeat or device.heartbeat,
    )
