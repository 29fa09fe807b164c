"""The Modbus protocol (TCP, RTU, ASCII, RTU over TCP) as the core sees it (registered under
`modbus`)."""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Callable, Sequence

from gateway.clock import Clock
from gateway.collectors.base import Collector, Emit
from gateway.collectors.modbus.buschecks import check_buses, warn_buses
from gateway.collectors.modbus.busplan import (
    describe_bus_footer,
    describe_bus_header,
    try_budget,
)
from gateway.collectors.modbus.checks import check_device, device_warnings
from gateway.collectors.modbus.compile import ConnectionPlan, ScanPlan, compile_connections
from gateway.collectors.modbus.csvcolumns import MODBUS_COLUMNS
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.probeargs import HELP as PROBE_HELP
from gateway.collectors.modbus.probeargs import add_arguments as probe_arguments
from gateway.collectors.modbus.types import DataType
from gateway.collectors.modbus.wiretime import scan_wire_s
from gateway.collectors.registry import Command, Plugin
from gateway.model import Point, Sample

#: the Python type of the raw values of each data type (before scaling, which gives floats)
VALUE_TYPES: dict[DataType, tuple[type, ...]] = {
    **{t: (int,) for t in DataType if t.is_numeric},
    DataType.FLOAT32: (float,),
    DataType.FLOAT64: (float,),
    DataType.BOOL: (bool,),
    DataType.BIT: (bool,),
    DataType.STRING: (str,),
}


def describe(conn: ConnectionPlan) -> list[str]:
    """The read plan of one connection, as `gateway plan` prints it."""
    lines = [f"connection {conn.endpoint} (timeout {conn.timeout_s:g}s, retries {conn.retries})"]
    bus = conn.endpoint.is_bus
    if bus:
        lines += describe_bus_header(conn)
    budgets: dict[str, list[ScanPlan]] = defaultdict(list)  # the scans of each bus device
    for scan in conn.scans if bus else ():
        budgets[scan.device].append(scan)
    for scan in conn.scans:
        if scan.device in budgets:  # before the device's first scan
            lines.append(f"  {try_budget(conn, budgets.pop(scan.device))}")
        regs = sum(r.count for r in scan.requests)
        wire = ""
        if bus:
            wire = (
                f", {scan_wire_s(conn.endpoint, scan, scan.turnaround_s) * 1000:.1f} ms on the wire"
            )
        lines.append(
            f"  device {scan.device} unit {scan.unit} every {scan.interval_s:g}s: "
            f"{len(scan.requests)} requests, {regs} registers/bits, {len(scan.tags)} tags{wire}"
        )
        for req in scan.requests:
            names = ", ".join(span.key.point.tag for span in req.spans)
            lines.append(
                f"    fc{req.function} {req.space.value} unit {req.unit} "
                f"start {req.start} count {req.count}: {names}"
            )
    if bus:
        lines += describe_bus_footer(conn)
    return lines


def collector(plan: ConnectionPlan, emit: Emit, clock: Clock) -> Collector:
    # pymodbus (~10 MB) only for a gateway that polls: `check` and `plan` never load it
    if plan.endpoint.is_bus:  # serial lines and RTU over TCP: one exchange at a time
        from gateway.collectors.modbus.bus import ModbusBus

        return ModbusBus(plan, emit, clock)
    from gateway.collectors.modbus.collector import ModbusConnection

    return ModbusConnection(plan, emit, clock)


def probe(args: argparse.Namespace) -> int:
    from gateway.collectors.modbus.probecommand import run  # pymodbus only when it runs

    return run(args)


def sources(plan: ConnectionPlan, collector: Collector) -> Callable[[Sample], str]:
    from gateway.collectors.modbus.rawsource import sources as note_registers

    return note_registers(plan, collector)  # type: ignore[arg-type]  # built by `collector`


def inspect_command(plan: ConnectionPlan, point: Point) -> str:
    from gateway.collectors.modbus.rawsource import inspect_command as probe_of

    return probe_of(plan, point)


def value_types(device: ModbusDevice) -> Sequence[tuple[type, ...]]:
    return [VALUE_TYPES[tag.dtype] for tag in device.tags]


PLUGIN: Plugin[ModbusDevice, ConnectionPlan] = Plugin(
    protocol="modbus",
    device_model=ModbusDevice,
    columns=MODBUS_COLUMNS,
    compile=compile_connections,
    describe=describe,
    collector=collector,
    value_types=value_types,
    check=check_device,
    warn=device_warnings,
    check_across=check_buses,
    warn_across=warn_buses,
    stand_ins={"endpoint": "modbus+tcp://_"},
    commands=(Command("probe", PROBE_HELP, probe_arguments, probe),),
    sources=sources,
    inspect_command=inspect_command,
)
