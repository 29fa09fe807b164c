"""Checks of Modbus buses (serial lines, RTU over TCP): unit ids on a bus, the device fields
that only buses use, and the checks across the devices of one line.

Findings are (path relative to the device, message) as in `checks`; the checks across devices
return them per device, by its index in the sequence given (only enabled devices are on the
running bus: a disabled one may keep the unit id of the device that replaced it).
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.collectors.modbus.busplan import device_warnings, overload
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.endpoint import USUAL_RATES, Endpoint, line_key, parse_endpoint
from gateway.collectors.modbus.models import ModbusDevice
from gateway.config.checks import Found

BROADCAST = 0
RESERVED = range(248, 256)
BUS_SCHEMES = "modbus+rtu, modbus+ascii, modbus+rtu-tcp"
#: the settings the devices of one line must agree on, as the endpoint holds them
LINE_SETTINGS = ("framing", "baudrate", "parity", "stopbits", "bytesize")


def bus_unit(device: ModbusDevice) -> Found:
    """Unit ids a bus cannot read: 0 (broadcast, nobody answers) and 248..255 (reserved)."""
    if not parse_endpoint(device.endpoint).is_bus:
        return []
    unit = device.unit_id
    if unit == BROADCAST:
        message = "unit id 0 is the broadcast address on a bus: no device answers it, so it "
        return [(("unit_id",), message + "cannot be read (use the device's own unit id, 1..247)")]
    if unit in RESERVED:
        message = f"unit id {unit} is reserved on a Modbus serial line (248..255): use 1..247"
        return [(("unit_id",), message)]
    return []


def bus_warnings(device: ModbusDevice) -> Found:
    """Bus fields set on a Modbus TCP device; a baud rate no device is usually set to."""
    endpoint = parse_endpoint(device.endpoint)
    found: Found = []
    if not endpoint.is_bus:
        given = device.model_fields_set
        if "pause" in given:
            message = f"pause only applies to buses ({BUS_SCHEMES}); a modbus+tcp device is "
            found.append((("pause",), message + "not paused for"))
        if "turnaround" in given:
            message = f"turnaround only applies to buses ({BUS_SCHEMES}), for the wire-time "
            found.append((("turnaround",), message + "estimate of `gateway plan`"))
    elif endpoint.baudrate not in USUAL_RATES:
        usual = ", ".join(map(str, USUAL_RATES))
        message = f"baudrate {endpoint.baudrate} is not a usual rate ({usual}): check it "
        found.append((("endpoint",), message + "against the device's setting"))
    return found


def check_buses(devices: Sequence[ModbusDevice]) -> list[tuple[int, Found]]:
    """Across the enabled devices of each bus: one unit id per device, one set of line
    settings; reported at the later device, naming the first. A device without a query takes
    the line's settings (`compile.line_endpoint`): only its framing is compared."""
    bus = [(i, d, parse_endpoint(d.endpoint)) for i, d in enumerate(devices) if d.enabled]
    bus = [(i, d, ep) for i, d, ep in bus if ep.is_bus]
    first_on_line: dict[tuple[str, ...], tuple[ModbusDevice, Endpoint]] = {}
    settings: dict[tuple[str, ...], tuple[ModbusDevice, Endpoint]] = {}
    for _, device, endpoint in bus:
        first_on_line.setdefault(line_key(endpoint), (device, endpoint))
        if endpoint.settings_given:
            settings.setdefault(line_key(endpoint), (device, endpoint))
    units: dict[tuple[tuple[str, ...], int], ModbusDevice] = {}
    found: list[tuple[int, Found]] = []
    for index, device, endpoint in bus:
        key = line_key(endpoint)
        first, first_endpoint = first_on_line[key]
        given, given_endpoint = settings.get(key, (first, first_endpoint))
        disagree: Found = []
        if endpoint.settings_given and given is not device:
            disagree = _disagreement(given.name, given_endpoint, endpoint)
        if not disagree and first is not device:  # every device: the framing of the first
            disagree = _disagreement(first.name, first_endpoint, endpoint, ["framing"])
        if disagree:
            found.append((index, disagree))
        other = units.setdefault((key, device.unit_id), device)
        if other is not device:
            message = f"devices {other.name!r} and {device.name!r} both have unit id "
            message += f"{device.unit_id} on {first_endpoint}{_alias(first_endpoint, endpoint)}: "
            found.append(
                (index, [(("unit_id",), message + "each device on a bus needs its own unit id")])
            )
    return found


def _alias(first: Endpoint, endpoint: Endpoint) -> str:
    """` (here /dev/ttyUSB0, the same device)` when a device names the line differently."""
    if first.path == endpoint.path:
        return ""
    return f" (here {endpoint.path}, the same device)"


def _disagreement(
    name: str, first: Endpoint, endpoint: Endpoint, settings: Sequence[str] = LINE_SETTINGS
) -> Found:
    differ = [s for s in settings if getattr(first, s) != getattr(endpoint, s)]
    if not differ:
        return []
    theirs = ", ".join(f"{s} {getattr(first, s)}" for s in differ)
    mine = ", ".join(f"{s} {getattr(endpoint, s)}" for s in differ)
    if first.path != endpoint.path:
        mine = f"{endpoint.path}, the same device, {mine}"
    message = f"{first} is also the line of device {name!r}, with {theirs} (here {mine}): "
    return [(("endpoint",), message + "the devices of one line share its settings")]


def warn_buses(devices: Sequence[ModbusDevice]) -> list[tuple[int, Found]]:
    """Lines whose scans cannot keep their rates, at the `endpoint` of the line's first
    device; a device's timeout below its turnaround, an exchange longer than its scan
    interval (`busplan.device_warnings`). Only bus devices are compiled: a TCP-only map costs
    nothing here."""
    on_bus = [d for d in devices if d.enabled and parse_endpoint(d.endpoint).is_bus]
    if not on_bus:
        return []
    index = {device.name: i for i, device in enumerate(devices)}
    found: list[tuple[int, Found]] = []
    for conn in compile_connections(on_bus):
        warning = overload(conn)
        if warning is not None:
            found.append((index[conn.devices[0]], [(("endpoint",), warning)]))
        for scan, field, message in device_warnings(conn):
            found.append((index[scan.device], [((field,), message)]))
    return found
