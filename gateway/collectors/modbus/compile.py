"""Compile validated Modbus devices into the immutable runtime plan.

Per connection (endpoint), per device and per scan rate: the planned Modbus reads, and for each
tag everything the hot path needs (decode parameters, the Point it lands on, scaling, range,
deadband) resolved once, so nothing is looked up per sample.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from gateway.collectors.modbus.endpoint import Endpoint, line_key, parse_endpoint
from gateway.collectors.modbus.models import ModbusDevice, ModbusTag
from gateway.collectors.modbus.planner import ReadRequest, Span, plan_reads
from gateway.collectors.modbus.types import ByteOrder, DataType, Space, register_count
from gateway.config.durations import NS_PER_S
from gateway.config.tagplan import deadband_threshold, linear, point_of, scan_interval_ns
from gateway.model import TagPlan


@dataclass(frozen=True, slots=True, eq=False)
class ModbusTagPlan(TagPlan):
    """One tag, resolved: how to decode it (the pipeline's part is the base class)."""

    space: Space
    address: int
    count: int
    dtype: DataType
    order: ByteOrder
    bit: int | None
    encoding: str = "utf-8"  # of a string's bytes


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """The reads of one device at one scan rate."""

    device: str
    unit: int
    interval_s: float
    requests: tuple[ReadRequest[ModbusTagPlan], ...]
    demote_after: int = 3
    demote_max_s: float = 60.0
    # per device, for buses (serial lines, RTU over TCP): each request waits its device's
    # timeout and retries; `pause_s` is the bus silence after each exchange with the device
    timeout_s: float = 1.0
    retries: int = 1
    pause_s: float = 0.0
    # the device's typical answer time: only for the wire-time estimate (`wiretime`)
    turnaround_s: float = 0.005

    @property
    def tags(self) -> tuple[ModbusTagPlan, ...]:
        """Every tag served by this scan, in request order."""
        return tuple(span.key for req in self.requests for span in req.spans)


@dataclass(frozen=True, slots=True)
class ConnectionPlan:
    """One physical connection and everything polled through it."""

    endpoint: Endpoint
    timeout_s: float
    retries: int
    devices: tuple[str, ...]
    scans: tuple[ScanPlan, ...]

    protocol: ClassVar[str] = "modbus"

    @property
    def name(self) -> str:
        """The connection's name in logs and metrics: its endpoint."""
        return str(self.endpoint)

    def tag_plans(self) -> tuple[ModbusTagPlan, ...]:
        """Every tag polled through this connection."""
        return tuple(tag for scan in self.scans for tag in scan.tags)


def compile_tag(tag: ModbusTag, device: ModbusDevice) -> ModbusTagPlan:
    """Resolve one tag against its device's defaults."""
    dtype = tag.dtype
    # values up to 2**64-1 are written with `u`
    point = point_of(tag, device, unsigned=dtype is DataType.UINT64)
    if dtype is DataType.FLOAT32 and tag.scale is None:  # the digits a float32 holds; a
        point = dataclasses.replace(point, float32=True)  # scaled one is a float64 (repr)
    return ModbusTagPlan(
        point=point,
        space=tag.space,
        address=tag.address,
        count=register_count(dtype, tag.length),
        dtype=dtype,
        order=tag.byte_order or device.byte_order,
        bit=tag.bit,
        scale=linear(tag.scale) if dtype.is_numeric else None,
        range=tag.range,
        deadband=deadband_threshold(tag, device.deadband, dtype.is_numeric),
        heartbeat_s=tag.heartbeat or device.heartbeat,
        encoding=tag.encoding or "utf-8",
    )


def compile_device(device: ModbusDevice) -> tuple[ScanPlan, ...]:
    """The scans of one device: tags grouped by rate, each group planned into reads."""
    by_rate: dict[int, list[ModbusTagPlan]] = defaultdict(list)  # nanoseconds: exact keys
    for tag in device.tags:
        by_rate[scan_interval_ns(tag, device)].append(compile_tag(tag, device))
    scans = []
    for rate in sorted(by_rate):
        spans = [Span(t, t.space, device.unit_id, t.address, t.count) for t in by_rate[rate]]
        requests = plan_reads(spans, max_gap=device.max_gap, max_registers=device.max_registers)
        scans.append(
            ScanPlan(
                device.name,
                device.unit_id,
                rate / NS_PER_S,
                tuple(requests),
                device.demote_after,
                device.demote_max,
                timeout_s=device.timeout,
                retries=device.retries,
                pause_s=device.pause,
                turnaround_s=device.turnaround,
            )
        )
    return tuple(scans)


def compile_connections(devices: Sequence[ModbusDevice]) -> tuple[ConnectionPlan, ...]:
    """Group enabled devices by endpoint: one connection (and one task) per endpoint.

    Devices sharing an endpoint (unit ids behind one gateway) share its connection, which uses
    the largest timeout and retry count among them. The devices of one serial line (one device
    path) or behind one RTU-over-TCP host:port are one connection whatever their query says
    (the checks refuse devices of one line that disagree on its settings); the connection
    takes the endpoint of its first device, with the settings of the first that gives a query.
    """
    grouped: dict[tuple[str, ...], list[ModbusDevice]] = defaultdict(list)
    endpoints: dict[tuple[str, ...], list[Endpoint]] = defaultdict(list)
    for device in devices:
        if device.enabled and device.tags:
            endpoint = parse_endpoint(device.endpoint)
            key = line_key(endpoint)
            endpoints[key].append(endpoint)
            grouped[key].append(device)
    plans = []
    for key, members in grouped.items():
        endpoint = line_endpoint(endpoints[key])
        scans = tuple(scan for dev in members for scan in compile_device(dev))
        plans.append(
            ConnectionPlan(
                endpoint=endpoint,
                timeout_s=max(d.timeout for d in members),
                retries=max(d.retries for d in members),
                devices=tuple(d.name for d in members),
                scans=scans,
            )
        )
    return tuple(plans)


def line_endpoint(endpoints: Sequence[Endpoint]) -> Endpoint:
    """The endpoint of a connection: the first device's spelling, the line settings of the
    first device that gives them (a device without a query takes its line's settings)."""
    first = endpoints[0]
    given = next((ep for ep in endpoints if ep.settings_given), first)
    return dataclasses.replace(given, scheme=first.scheme, host=first.host, path=first.path)
