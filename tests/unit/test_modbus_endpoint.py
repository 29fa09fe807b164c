"""Endpoint URLs of the four Modbus schemes: what parses, and what an engineer is told."""

from __future__ import annotations

import os
import re

import pytest

from gateway.collectors.modbus.endpoint import Endpoint, line_key, parse_endpoint


def test_rtu_defaults_are_19200_8e1() -> None:
    assert parse_endpoint("modbus+rtu:///dev/ttyUSB0") == Endpoint(
        "modbus+rtu", "", 0, "/dev/ttyUSB0", 19200, "E", 1, 8
    )


def test_rtu_query_sets_the_line() -> None:
    ep = parse_endpoint("modbus+rtu:///dev/ttyUSB0?baudrate=9600&parity=n&stopbits=2&bytesize=8")
    assert (ep.path, ep.baudrate, ep.parity, ep.stopbits, ep.bytesize) == (
        "/dev/ttyUSB0",
        9600,
        "N",
        2,
        8,
    )
    assert str(ep) == "modbus+rtu:///dev/ttyUSB0"
    assert (ep.is_serial, ep.is_bus, ep.framing, ep.bits_per_char) == (True, True, "rtu", 11)


def test_ascii_takes_seven_data_bits() -> None:
    ep = parse_endpoint("modbus+ascii:///dev/ttyS1?bytesize=7&parity=O")
    assert (ep.scheme, ep.path, ep.bytesize, ep.parity, ep.framing) == (
        "modbus+ascii",
        "/dev/ttyS1",
        7,
        "O",
        "ascii",
    )


def test_rtu_over_tcp_has_a_host_a_port_and_the_line_behind_it() -> None:
    assert parse_endpoint("modbus+rtu-tcp://10.0.0.9") == Endpoint(
        "modbus+rtu-tcp", "10.0.0.9", 502
    )
    ep = parse_endpoint("modbus+rtu-tcp://moxa-3:4001?baudrate=38400&parity=N&stopbits=2")
    assert (ep.host, ep.port, ep.baudrate, ep.parity, ep.stopbits, ep.path) == (
        "moxa-3",
        4001,
        38400,
        "N",
        2,
        "",
    )
    assert (ep.is_serial, ep.is_bus, ep.framing) == (False, True, "rtu")


def test_tcp_is_unchanged() -> None:
    assert parse_endpoint("modbus+tcp://10.0.0.5") == Endpoint("modbus+tcp", "10.0.0.5", 502)


def test_an_unusual_baud_rate_is_accepted() -> None:
    assert parse_endpoint("modbus+rtu:///dev/ttyUSB0?baudrate=31250").baudrate == 31250


KNOWN = "known: baudrate, parity, stopbits, bytesize"
USUAL = "usual rates: 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "modbus+rtu:///dev/ttyUSB0?baud=9600",
            f"'modbus+rtu:///dev/ttyUSB0?baud=9600': unknown query parameter 'baud' ({KNOWN})",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?parity=E&parity=N",
            "'modbus+rtu:///dev/ttyUSB0?parity=E&parity=N': query parameter 'parity' is given "
            f"twice ({KNOWN})",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?baudrate=0",
            "'modbus+rtu:///dev/ttyUSB0?baudrate=0': baudrate must be a positive whole number "
            f"of bits per second, not '0' ({USUAL})",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?baudrate=-9600",
            "'modbus+rtu:///dev/ttyUSB0?baudrate=-9600': baudrate must be a positive whole "
            f"number of bits per second, not '-9600' ({USUAL})",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?baudrate=fast",
            "'modbus+rtu:///dev/ttyUSB0?baudrate=fast': baudrate must be a positive whole "
            f"number of bits per second, not 'fast' ({USUAL})",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?parity=X",
            "'modbus+rtu:///dev/ttyUSB0?parity=X': parity must be N (none), E (even) or "
            "O (odd), not 'X'",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?stopbits=1.5",
            "'modbus+rtu:///dev/ttyUSB0?stopbits=1.5': stopbits must be 1 or 2, not '1.5'",
        ),
        (
            "modbus+ascii:///dev/ttyUSB0?bytesize=6",
            "'modbus+ascii:///dev/ttyUSB0?bytesize=6': bytesize must be 7 or 8, not '6'",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?bytesize=7",
            "'modbus+rtu:///dev/ttyUSB0?bytesize=7': RTU frames carry 8-bit bytes: bytesize "
            "must be 8 (7 data bits is for modbus+ascii)",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?parity=",
            "'modbus+rtu:///dev/ttyUSB0?parity=': query parameter 'parity' has no value",
        ),
        (
            "modbus+rtu://",
            "'modbus+rtu://' has no serial device (expected modbus+rtu:///dev/ttyUSB0)",
        ),
        (
            "modbus+rtu://dev/ttyUSB0",
            "'modbus+rtu://dev/ttyUSB0' names a host 'dev': a serial device is written with "
            "three slashes, e.g. modbus+rtu:///dev/ttyUSB0",
        ),
        (
            "modbus+rtu://10.0.0.9:4001",
            "'modbus+rtu://10.0.0.9:4001' names a host '10.0.0.9': a serial device is written "
            "with three slashes, e.g. modbus+rtu:///dev/ttyUSB0 (RTU over TCP is "
            "modbus+rtu-tcp://host:port)",
        ),
        (
            "modbus+ascii:///dev/ttyUSB0#x",
            "'modbus+ascii:///dev/ttyUSB0#x': an endpoint has no fragment ('#x')",
        ),
        (
            "modbus+rtu-tcp://:4001",
            "'modbus+rtu-tcp://:4001' has no host (expected modbus+rtu-tcp://host:port)",
        ),
        (
            "modbus+rtu-tcp://moxa/dev/ttyUSB0",
            "'modbus+rtu-tcp://moxa/dev/ttyUSB0': an RTU-over-TCP endpoint has no path "
            "(expected modbus+rtu-tcp://host:port)",
        ),
        (
            "modbus+rtu-tcp://moxa?speed=9600",
            f"'modbus+rtu-tcp://moxa?speed=9600': unknown query parameter 'speed' ({KNOWN})",
        ),
        (
            "modbus+tcp://plc?baudrate=9600",
            "'modbus+tcp://plc?baudrate=9600': a Modbus TCP endpoint has no path or query",
        ),
        (
            "modbus+rtu-udp://plc",
            "'modbus+rtu-udp://plc': unsupported scheme 'modbus+rtu-udp' (expected "
            "modbus+tcp://host:port, modbus+rtu:///dev/ttyUSB0, modbus+ascii:///dev/ttyUSB0 "
            "or modbus+rtu-tcp://host:port)",
        ),
    ],
)
def test_bad_endpoints_say_what_to_fix(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_endpoint(url)


def test_one_line_is_one_key_whatever_its_settings() -> None:
    a = parse_endpoint("modbus+rtu:///dev/ttyUSB0")
    b = parse_endpoint("modbus+ascii:///dev/ttyUSB0?baudrate=9600")
    c = parse_endpoint("modbus+rtu-tcp://moxa:4001")
    d = parse_endpoint("modbus+rtu-tcp://moxa:4001?baudrate=9600")
    assert line_key(a) == line_key(b) != line_key(c) == line_key(d)
    assert line_key(parse_endpoint("modbus+tcp://moxa:4001")) != line_key(c)


# --- one serial port, one spelling ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "modbus+rtu:////dev/ttyUSB0",
        "modbus+rtu:///dev//ttyUSB0",
        "modbus+rtu:///dev/ttyUSB0/",
        "modbus+rtu:///dev/./ttyUSB0",
        "modbus+rtu:///dev/tty%55SB0",  # percent-encoding is decoded (a URL's rule)
    ],
)
def test_a_serial_path_is_normalised_at_parse(url: str) -> None:
    ep = parse_endpoint(url)
    assert ep.path == "/dev/ttyUSB0"
    assert str(ep) == "modbus+rtu:///dev/ttyUSB0"
    assert line_key(ep) == line_key(parse_endpoint("modbus+rtu:///dev/ttyUSB0"))


def test_dot_dot_is_left_to_the_file_system(tmp_path) -> None:
    # through a linked directory, `..` is the parent of the link's target, not of the link
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "ttyX").write_bytes(b"")
    (tmp_path / "link").symlink_to(tmp_path / "real" / "sub")
    ep = parse_endpoint(f"modbus+rtu://{tmp_path}/link/../ttyX")
    assert ep.path == f"{tmp_path}/link/../ttyX"
    assert line_key(ep) == line_key(parse_endpoint(f"modbus+rtu://{tmp_path}/real/ttyX"))


def test_percent_encoding_lets_a_path_hold_url_characters() -> None:
    assert parse_endpoint("modbus+rtu:///dev/serial/by-id/usb-A%23B%3F").path == (
        "/dev/serial/by-id/usb-A#B?"
    )


@pytest.mark.parametrize("encoded", ["%00", "%0A", "%1b"])
def test_a_control_character_in_a_serial_path_is_refused(encoded: str) -> None:
    url = f"modbus+rtu:///dev/tty{encoded}USB0"
    with pytest.raises(ValueError, match="control character"):
        parse_endpoint(url)


def test_a_symlink_and_its_target_are_one_line(tmp_path) -> None:
    port = tmp_path / "ttyUSB0"
    port.write_bytes(b"")
    (tmp_path / "by-id").mkdir()
    alias = tmp_path / "by-id" / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
    alias.symlink_to("../ttyUSB0")  # relative, as udev makes them
    a = parse_endpoint(f"modbus+rtu://{port}")
    b = parse_endpoint(f"modbus+ascii://{alias}?baudrate=9600")
    assert line_key(a) == line_key(b)
    assert line_key(a) != line_key(parse_endpoint(f"modbus+rtu://{tmp_path}/ttyUSB1"))


def test_a_pty_end_and_its_dev_pts_device_are_one_line(serial_line) -> None:
    end, _ = serial_line
    target = os.path.realpath(end)
    assert target.startswith("/dev/pts/")
    assert line_key(parse_endpoint(f"modbus+rtu://{end}")) == line_key(
        parse_endpoint(f"modbus+rtu://{target}")
    )


def test_a_path_that_does_not_exist_is_its_normalised_spelling() -> None:
    ep = parse_endpoint("modbus+rtu:///dev/nothing-here/ttyX9")
    assert line_key(ep) == ("serial", "/dev/nothing-here/ttyX9")


# --- values an engineer is told about ---------------------------------------------------------

WINDOWS = (
    "is a Windows port name: the gateway runs on Linux and takes a device path such as "
    "/dev/ttyUSB0 or /dev/serial/by-id/... (e.g. modbus+rtu:///dev/ttyUSB0)"
)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "modbus+tcp://plc:0",
            "'modbus+tcp://plc:0': port 0 is not a port (use 1..65535; 502 when left out)",
        ),
        (
            "modbus+rtu-tcp://moxa:0",
            "'modbus+rtu-tcp://moxa:0': port 0 is not a port (use 1..65535; 502 when left out)",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?baudrate=99999999999999999",
            "'modbus+rtu:///dev/ttyUSB0?baudrate=99999999999999999': baudrate 99999999999999999 "
            "is not a rate a serial port can take (50..4000000 bits per second)",
        ),
        (
            "modbus+rtu-tcp://moxa?baudrate=4000001",
            "'modbus+rtu-tcp://moxa?baudrate=4000001': baudrate 4000001 is not a rate a serial "
            "port can take (50..4000000 bits per second)",
        ),
        (
            "modbus+rtu:///dev/ttyUSB0?baudrate=49",
            "'modbus+rtu:///dev/ttyUSB0?baudrate=49': baudrate 49 is not a rate a serial port "
            "can take (50..4000000 bits per second)",
        ),
        (
            "modbus+rtu:////",
            "'modbus+rtu:////' has no serial device (expected modbus+rtu:///dev/ttyUSB0)",
        ),
        ("modbus+rtu:///COM3", f"'modbus+rtu:///COM3': COM3 {WINDOWS}"),
        ("modbus+rtu://COM3", f"'modbus+rtu://COM3': COM3 {WINDOWS}"),
        ("modbus+ascii:com12", f"'modbus+ascii:com12': com12 {WINDOWS.replace('rtu', 'ascii')}"),
        (
            "modbus+rtu:ttyUSB0",
            "'modbus+rtu:ttyUSB0': the serial device must be an absolute path (a relative one "
            "would depend on the directory the gateway starts in), e.g. modbus+rtu:///dev/ttyUSB0",
        ),
        (
            "modbus+rtu:./dev/ttyUSB0",
            "'modbus+rtu:./dev/ttyUSB0': the serial device must be an absolute path (a relative "
            "one would depend on the directory the gateway starts in), e.g. "
            "modbus+rtu:///dev/ttyUSB0",
        ),
    ],
)
def test_impossible_values_are_refused_with_a_hint(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        parse_endpoint(url)


def test_a_baud_rate_of_thousands_of_digits_is_out_of_range() -> None:
    # int() refuses more than 4300 digits: the range check must not reach it
    with pytest.raises(ValueError, match="is not a rate a serial port can take"):
        parse_endpoint("modbus+rtu:///dev/ttyUSB0?baudrate=" + "9" * 5000)


@pytest.mark.parametrize("rate", [50, 300, 31250, 250000, 4000000])
def test_odd_but_possible_baud_rates_parse(rate: int) -> None:
    assert parse_endpoint(f"modbus+rtu:///dev/ttyUSB0?baudrate={rate}").baudrate == rate
