"""Pure: the `gateway plan` text of a bus (serial line, RTU over TCP) and its load warning,
from the wire-time estimate (`wiretime`)."""

from __future__ import annotations

from gateway.collectors.modbus.compile import ConnectionPlan, ScanPlan
from gateway.collectors.modbus.wiretime import bus_load, char_time_s, scan_load, silence_s

#: scans named in an overload warning, the heaviest first
NAMED = 3


def line_settings(conn: ConnectionPlan) -> str:
    """The line of a bus, e.g. `serial line 19200 baud 8E1, RTU frames: 11 bits per character
    (0.573 ms), 2.005 ms silence between frames`."""
    ep = conn.endpoint
    settings = f"{ep.baudrate} baud {ep.bytesize}{ep.parity}{ep.stopbits}"
    where = f"serial line {settings}" if ep.is_serial else f"line behind the server {settings}"
    text = f"{where}, {ep.framing.upper()} frames: {ep.bits_per_char} bits per character "
    text += f"({char_time_s(ep) * 1000:.3f} ms)"
    silence = silence_s(ep)
    return text + (f", {silence * 1000:.3f} ms silence between frames" if silence else "")


def load_text(load: float) -> str:
    return f"{load:.2f} s per s ({load:.0%})"


def scan_name(scan: ScanPlan) -> str:
    return f"{scan.device} every {scan.interval_s:g}s"


def overload(conn: ConnectionPlan) -> str | None:
    """Why the scans of a bus cannot keep their rates (None when they fit)."""
    load = bus_load(conn)
    if load <= 1.0:
        return None
    parts = [(scan_load(conn.endpoint, scan), scan) for scan in conn.scans]
    parts.sort(key=lambda part: -part[0])  # stable: equal loads in plan order
    heaviest = ", ".join(f"{scan_name(scan)}: {load_text(part)}" for part, scan in parts[:NAMED])
    return (
        f"the scans on {conn.endpoint} need {load:.2f} s of wire time per second "
        f"({load:.0%}): they cannot keep their rates (most of it: {heaviest}); scan less "
        "often, read fewer registers, move devices to another line or raise the baud rate"
    )


def describe_bus_header(conn: ConnectionPlan) -> list[str]:
    """The lines after a bus connection's first line."""
    return [f"  {line_settings(conn)}"]


def describe_bus_footer(conn: ConnectionPlan) -> list[str]:
    """The load of the line, and a warning when the scans do not fit."""
    lines = [f"  line load {load_text(bus_load(conn))}"]
    warning = overload(conn)
    if warning is not None:
        lines.append(f"  warning: {warning}")
    return lines
