"""Pure: the `gateway plan` text of a bus (serial line, RTU over TCP) and its warnings, from
the wire-time estimate (`wiretime`).

A try of a request on a bus waits the device's `timeout` after the request's frame is on the
wire and before the answer's frame is (the link counts both frames' characters on top), so
the timeout is the device's turnaround budget: it is compared with `turnaround`, never with
the wire time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.collectors.modbus.compile import ConnectionPlan, ScanPlan
from gateway.collectors.modbus.planner import ReadRequest
from gateway.collectors.modbus.wiretime import (
    bus_load,
    char_time_s,
    exchange_s,
    frames_s,
    scan_load,
    silence_s,
)

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


def ms(seconds: float) -> str:
    """A device setting as written, e.g. `200ms`, `1s`."""
    return f"{seconds:g}s" if seconds >= 1 else f"{seconds * 1000:g}ms"


def try_budget(conn: ConnectionPlan, scans: list[ScanPlan]) -> str:
    """How long one try of a device's requests may take: its timeout plus the frames of its
    longest exchange (the scans of one device share timeout and retries)."""
    scan = scans[0]
    frames = max(frames_s(conn.endpoint, r) for s in scans for r in s.requests)
    total = (scan.timeout_s + frames) * 1000
    head = f"device {scan.device} unit {scan.unit}: timeout {ms(scan.timeout_s)}, "
    return (
        f"{head}retries {scan.retries}: a try takes at most {total:.1f} ms (the timeout plus "
        f"its longest exchange's {frames * 1000:.1f} ms of frames on the wire)"
    )


def device_warnings(conn: ConnectionPlan) -> Iterator[tuple[ScanPlan, str, str]]:
    """(scan, field of its device, message): a timeout below the device's turnaround (once
    per device), an exchange longer than its scan's interval."""
    warned: set[str] = set()
    for scan in conn.scans:
        if scan.timeout_s < scan.turnaround_s and scan.device not in warned:
            warned.add(scan.device)
            yield scan, "timeout", _short_timeout(scan)
        times = [
            (exchange_s(conn.endpoint, r, scan.turnaround_s, scan.pause_s), r)
            for r in scan.requests
        ]
        longest, request = max(times, key=lambda item: item[0])
        if longest > scan.interval_s:
            yield scan, "endpoint", _long_exchange(scan, request, longest)


def _short_timeout(scan: ScanPlan) -> str:
    return (
        f"the timeout {ms(scan.timeout_s)} of device {scan.device!r} is shorter than its "
        f"turnaround {ms(scan.turnaround_s)} (its typical time to answer): most answers would "
        "come too late; on a bus the timeout is the time the device may take to answer, its "
        "frames' time on the wire not counted"
    )


def _long_exchange(scan: ScanPlan, request: ReadRequest[Any], seconds: float) -> str:
    what = f"fc{request.function} {request.space.value} start {request.start} count {request.count}"
    return (
        f"one exchange of device {scan.device!r} every {scan.interval_s:g}s ({what}) keeps the "
        f"line busy {seconds * 1000:.1f} ms, longer than its scan interval: the scan can never "
        "keep its rate; scan it less often, read fewer registers per request (max_registers) "
        "or raise the baud rate"
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
    lines += [f"  warning: {message}" for _, _, message in device_warnings(conn)]
    return lines
