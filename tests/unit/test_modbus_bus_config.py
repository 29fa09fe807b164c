"""Buses in tag maps: serial endpoints through the loader and `gateway check`, the device
fields `pause` and `turnaround`, unit ids on a bus, and the checks across devices of a line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.config import load_tagmaps
from gateway.errors import ConfigError

TAG = "    tags: [{name: v, space: input_register, address: 0}]\n"


def device(name: str, endpoint: str, *lines: str) -> str:
    """One device of a map (name at its first line, endpoint at the next)."""
    body = "".join(f"    {line}\n" for line in lines)
    return f"  - name: {name}\n    endpoint: {endpoint}\n{body}{TAG}"


def load(tmp_path: Path, *devices: str) -> tuple[list[str], list[str]]:
    """(problems, warnings) of a map.yaml with these devices, as `file:line path: message`."""
    path = tmp_path / "map.yaml"
    path.write_text("devices:\n" + "".join(devices), encoding="utf-8")
    try:
        config = load_tagmaps([path], env={})
    except ConfigError as exc:
        problems, warnings = exc.problems, exc.warnings
    else:
        problems, warnings = [], list(config.warnings)
    prefix = f"{path}:"
    strip = [str(p).removeprefix(prefix) for p in problems]
    return strip, [str(w).removeprefix(prefix) for w in warnings]


RTU = "modbus+rtu:///dev/ttyUSB0"


# --- endpoints through the loader ---------------------------------------------------------


def test_gateway_check_points_at_a_bad_query_parameter(tmp_path, capsys):
    path = tmp_path / "bus.yaml"
    path.write_text("devices:\n" + device("cell01", RTU + "?baud=9600"), encoding="utf-8")
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert (
        f"{path}:3 devices[0].endpoint: '{RTU}?baud=9600': unknown query parameter 'baud' "
        "(known: baudrate, parity, stopbits, bytesize)"
    ) in err
    assert "Traceback" not in err


def test_gateway_check_accepts_every_bus_scheme(tmp_path, capsys):
    path = tmp_path / "bus.yaml"
    path.write_text(
        "devices:\n"
        + device("cell01", RTU + "?baudrate=9600&parity=N&stopbits=2", "unit_id: 1")
        + device("cell02", RTU + "?baudrate=9600&parity=N&stopbits=2", "unit_id: 2")
        + device("meter", "modbus+ascii:///dev/ttyS1?bytesize=7")
        + device("feeder", "modbus+rtu-tcp://10.0.0.9:4001", "pause: 20ms"),
        encoding="utf-8",
    )
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "OK: 4 devices, 4 tags in 1 files"


def test_bad_baud_rate_is_located(tmp_path):
    problems, _ = load(tmp_path, device("cell01", RTU + "?baudrate=0"))
    assert problems == [
        f"3 devices[0].endpoint: '{RTU}?baudrate=0': baudrate must be a positive whole number "
        "of bits per second, not '0' (usual rates: 1200, 2400, 4800, 9600, 19200, 38400, "
        "57600, 115200)"
    ]


def test_an_unusual_baud_rate_is_a_warning(tmp_path):
    problems, warnings = load(tmp_path, device("cell01", RTU + "?baudrate=19000"))
    assert (problems, warnings) == (
        [],
        [
            "3 devices[0].endpoint: warning: baudrate 19000 is not a usual rate (1200, 2400, "
            "4800, 9600, 19200, 38400, 57600, 115200): check it against the device's setting"
        ],
    )


# --- pause and turnaround ------------------------------------------------------------------


def test_pause_and_turnaround_default_and_parse() -> None:
    plain = ModbusDevice.model_validate({"name": "a", "endpoint": RTU})
    assert (plain.pause, plain.turnaround) == (0.0, 0.005)
    set_ = ModbusDevice.model_validate(
        {"name": "a", "endpoint": RTU, "pause": "20ms", "turnaround": "12ms"}
    )
    assert (set_.pause, set_.turnaround) == (0.02, 0.012)


@pytest.mark.parametrize("field", ["pause", "turnaround"])
def test_a_negative_pause_or_turnaround_is_refused(tmp_path, field):
    problems, _ = load(tmp_path, device("cell01", RTU, f"{field}: -1"))
    assert len(problems) == 1
    assert problems[0].startswith(f"4 devices[0].{field}: ")


def test_pause_and_turnaround_on_modbus_tcp_are_warnings(tmp_path):
    problems, warnings = load(
        tmp_path, device("cell01", "modbus+tcp://10.0.0.5", "pause: 20ms", "turnaround: 3ms")
    )
    assert problems == []
    assert warnings == [
        "4 devices[0].pause: warning: pause only applies to buses (modbus+rtu, modbus+ascii, "
        "modbus+rtu-tcp); a modbus+tcp device is not paused for",
        "5 devices[0].turnaround: warning: turnaround only applies to buses (modbus+rtu, "
        "modbus+ascii, modbus+rtu-tcp), for the wire-time estimate of `gateway plan`",
    ]


def test_compile_fills_the_device_settings_of_each_scan() -> None:
    dev = ModbusDevice.model_validate(
        {
            "name": "cell01",
            "endpoint": RTU,
            "timeout": "300ms",
            "retries": 2,
            "pause": "20ms",
            "turnaround": "8ms",
            "scan_groups": {"fast": "200ms"},
            "tags": [
                {"name": "a", "space": "coil", "address": 0, "scan": "fast"},
                {"name": "b", "space": "coil", "address": 1},
            ],
        }
    )
    (conn,) = compile_connections([dev])
    assert [(s.timeout_s, s.retries, s.pause_s, s.turnaround_s) for s in conn.scans] == [
        (0.3, 2, 0.02, 0.008),
        (0.3, 2, 0.02, 0.008),
    ]


def test_devices_on_one_line_share_one_connection() -> None:
    tag = [{"name": "x", "space": "holding_register", "address": 0}]
    devices = [
        ModbusDevice.model_validate({"name": n, "endpoint": e, "unit_id": u, "tags": tag})
        for n, e, u in [
            ("a", RTU, 1),
            ("b", RTU + "?baudrate=19200", 2),  # the defaults written out: the same line
            ("c", "modbus+rtu-tcp://moxa:4001", 1),
            ("d", "modbus+rtu-tcp://moxa:4001", 2),
            ("e", "modbus+tcp://moxa:4001", 1),
        ]
    ]
    conns = compile_connections(devices)
    assert [(str(c.endpoint), c.devices) for c in conns] == [
        (RTU, ("a", "b")),
        ("modbus+rtu-tcp://moxa:4001", ("c", "d")),
        ("modbus+tcp://moxa:4001", ("e",)),
    ]


# --- unit ids on a bus -----------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [RTU, "modbus+rtu-tcp://moxa:4001"])
def test_unit_id_zero_is_broadcast_on_a_bus(tmp_path, endpoint):
    problems, _ = load(tmp_path, device("cell01", endpoint, "unit_id: 0"))
    assert problems == [
        "4 devices[0].unit_id: unit id 0 is the broadcast address on a bus: no device answers "
        "it, so it cannot be read (use the device's own unit id, 1..247)"
    ]


def test_reserved_unit_ids_are_refused_on_a_bus(tmp_path):
    problems, _ = load(tmp_path, device("cell01", RTU, "unit_id: 248"))
    assert problems == [
        "4 devices[0].unit_id: unit id 248 is reserved on a Modbus serial line (248..255): "
        "use 1..247"
    ]


def test_unit_id_zero_is_still_fine_on_modbus_tcp(tmp_path):
    assert load(tmp_path, device("cell01", "modbus+tcp://10.0.0.5", "unit_id: 0")) == ([], [])


def test_two_devices_with_one_unit_id_on_a_line(tmp_path):
    problems, _ = load(
        tmp_path,
        device("cell01", RTU, "unit_id: 3"),
        device("cell02", RTU + "?parity=E", "unit_id: 3"),
        device("cell03", "modbus+rtu:///dev/ttyUSB1", "unit_id: 3"),  # another line: fine
    )
    assert problems == [
        f"8 devices[1].unit_id: devices 'cell01' and 'cell02' both have unit id 3 on {RTU}: "
        "each device on a bus needs its own unit id"
    ]


def test_two_devices_with_one_unit_id_behind_one_device_server(tmp_path):
    problems, _ = load(
        tmp_path,
        device("cell01", "modbus+rtu-tcp://moxa:4001", "unit_id: 3"),
        device("cell02", "modbus+rtu-tcp://moxa:4001", "unit_id: 3"),
    )
    assert problems == [
        "8 devices[1].unit_id: devices 'cell01' and 'cell02' both have unit id 3 on "
        "modbus+rtu-tcp://moxa:4001: each device on a bus needs its own unit id"
    ]


def test_a_disabled_device_may_keep_the_unit_id_of_the_one_that_replaced_it(tmp_path):
    problems, _ = load(
        tmp_path,
        device("old", RTU, "unit_id: 3", "enabled: false"),
        device("new", RTU, "unit_id: 3"),
    )
    assert problems == []


def test_devices_of_one_line_must_agree_on_its_settings(tmp_path):
    problems, _ = load(
        tmp_path,
        device("cell01", RTU + "?baudrate=9600", "unit_id: 1"),
        device("cell02", RTU + "?baudrate=19200&parity=N", "unit_id: 2"),
        device("cell03", "modbus+ascii:///dev/ttyUSB0?baudrate=9600", "unit_id: 3"),
    )
    assert problems == [
        f"7 devices[1].endpoint: {RTU} is also the line of device 'cell01', with baudrate 9600, "
        "parity E (here baudrate 19200, parity N): the devices of one line share its settings",
        f"11 devices[2].endpoint: {RTU} is also the line of device 'cell01', with framing rtu "
        "(here framing ascii): the devices of one line share its settings",
    ]


def test_devices_behind_one_device_server_must_agree_on_its_line(tmp_path):
    problems, _ = load(
        tmp_path,
        device("cell01", "modbus+rtu-tcp://moxa:4001?stopbits=1", "unit_id: 1"),
        device("cell02", "modbus+rtu-tcp://moxa:4001?stopbits=2", "unit_id: 2"),
    )
    assert problems == [
        "7 devices[1].endpoint: modbus+rtu-tcp://moxa:4001 is also the line of device "
        "'cell01', with stopbits 1 (here stopbits 2): the devices of one line share its settings"
    ]


# --- one serial port under several names ----------------------------------------------------


def aliased_port(tmp_path: Path) -> tuple[str, str]:
    """A port and a udev-style by-id link to it: (the link, the port)."""
    port = tmp_path / "ttyUSB0"
    port.write_bytes(b"")
    (tmp_path / "by-id").mkdir()
    link = tmp_path / "by-id" / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
    link.symlink_to("../ttyUSB0")
    return str(link), str(port)


def bus_device(name: str, endpoint: str, unit: int) -> ModbusDevice:
    tag = [{"name": "x", "space": "holding_register", "address": 0}]
    return ModbusDevice.model_validate(
        {"name": name, "endpoint": endpoint, "unit_id": unit, "tags": tag}
    )


def test_names_of_one_port_share_one_connection_spelled_as_the_first(tmp_path) -> None:
    link, port = aliased_port(tmp_path)
    devices = [
        bus_device("a", f"modbus+rtu://{link}", 1),
        bus_device("b", f"modbus+rtu://{port}", 2),
        bus_device("c", f"modbus+rtu://{tmp_path}//ttyUSB0/", 3),
    ]
    (conn,) = compile_connections(devices)
    assert (str(conn.endpoint), conn.devices) == (f"modbus+rtu://{link}", ("a", "b", "c"))


def test_a_pty_end_and_its_dev_pts_name_share_one_connection(serial_line) -> None:
    end, _ = serial_line
    target = os.path.realpath(end)
    devices = [
        bus_device("a", f"modbus+rtu://{end}", 1),
        bus_device("b", f"modbus+rtu://{target}", 2),
    ]
    (conn,) = compile_connections(devices)
    assert conn.devices == ("a", "b")


def test_one_unit_id_twice_on_two_names_of_one_port(tmp_path) -> None:
    link, port = aliased_port(tmp_path)
    problems, _ = load(
        tmp_path,
        device("cell01", f"modbus+rtu://{link}", "unit_id: 3"),
        device("cell02", f"modbus+rtu://{port}", "unit_id: 3"),
    )
    assert problems == [
        f"8 devices[1].unit_id: devices 'cell01' and 'cell02' both have unit id 3 on "
        f"modbus+rtu://{link} (here {port}, the same device): each device on a bus needs its "
        "own unit id"
    ]


def test_two_names_of_one_port_must_agree_on_its_settings(tmp_path) -> None:
    link, port = aliased_port(tmp_path)
    problems, _ = load(
        tmp_path,
        device("cell01", f"modbus+rtu://{link}?baudrate=9600", "unit_id: 1"),
        device("cell02", f"modbus+rtu://{port}?baudrate=19200", "unit_id: 2"),
    )
    assert problems == [
        f"7 devices[1].endpoint: modbus+rtu://{link} is also the line of device 'cell01', "
        f"with baudrate 9600 (here {port}, the same device, baudrate 19200): the devices of one "
        "line share its settings"
    ]


# --- a device without a query takes the line's settings ---------------------------------------


def test_a_device_without_a_query_takes_the_settings_of_its_line(tmp_path) -> None:
    line = RTU + "?baudrate=9600&parity=N"
    problems, warnings = load(
        tmp_path,
        device("cell01", RTU, "unit_id: 1"),  # before the device that gives the query
        device("cell02", line, "unit_id: 2"),
        device("cell03", RTU, "unit_id: 3"),
        device("cell04", line, "unit_id: 4"),
        device("meter", "modbus+rtu-tcp://moxa:4001", "unit_id: 1"),
        device("meter2", "modbus+rtu-tcp://moxa:4001?stopbits=2", "unit_id: 2"),
    )
    assert (problems, warnings) == ([], [])
    devices = [bus_device(n, e, u) for n, e, u in [("a", RTU, 1), ("b", line, 2)]]
    (conn,) = compile_connections(devices)
    ep = conn.endpoint
    assert (str(ep), ep.baudrate, ep.parity) == (RTU, 9600, "N")
    behind = [bus_device("m", "modbus+rtu-tcp://moxa:4001", 1)]
    behind.append(bus_device("n", "modbus+rtu-tcp://moxa:4001?stopbits=2", 2))
    assert compile_connections(behind)[0].endpoint.stopbits == 2


def test_a_device_without_a_query_keeps_its_framing(tmp_path) -> None:
    problems, _ = load(
        tmp_path,
        device("cell01", RTU + "?baudrate=9600", "unit_id: 1"),
        device("cell02", "modbus+ascii:///dev/ttyUSB0", "unit_id: 2"),
    )
    assert problems == [
        f"7 devices[1].endpoint: {RTU} is also the line of device 'cell01', with framing rtu "
        "(here framing ascii): the devices of one line share its settings"
    ]


def test_two_queries_that_differ_are_still_refused(tmp_path) -> None:
    # the second writes only parity: its baud rate is the default, not the line's 9600
    problems, _ = load(
        tmp_path,
        device("cell01", RTU, "unit_id: 1"),
        device("cell02", RTU + "?baudrate=9600&parity=N", "unit_id: 2"),
        device("cell03", RTU + "?parity=N", "unit_id: 3"),
    )
    assert problems == [
        f"11 devices[2].endpoint: {RTU} is also the line of device 'cell02', with baudrate "
        "9600 (here baudrate 19200): the devices of one line share its settings"
    ]


def test_the_framing_of_a_first_device_without_a_query_counts(tmp_path) -> None:
    problems, _ = load(
        tmp_path,
        device("meter", "modbus+ascii:///dev/ttyUSB0", "unit_id: 1"),
        device("cell02", RTU + "?baudrate=9600", "unit_id: 2"),
    )
    assert problems == [
        "7 devices[1].endpoint: modbus+ascii:///dev/ttyUSB0 is also the line of device "
        "'meter', with framing ascii (here framing rtu): the devices of one line share its "
        "settings"
    ]
