"""The wire-time estimate of a bus, against frame sizes and times computed by hand."""

from __future__ import annotations

import pytest

from gateway.collectors.modbus.compile import ConnectionPlan, ScanPlan
from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.planner import ReadRequest
from gateway.collectors.modbus.types import Space
from gateway.collectors.modbus.wiretime import (
    bus_load,
    char_time_s,
    exchange_bytes,
    scan_wire_s,
    silence_s,
)

RTU = Endpoint("modbus+rtu", "", 0, "/dev/ttyUSB0")  # 19200 8E1: 11 bits per character
ASCII = Endpoint("modbus+ascii", "", 0, "/dev/ttyUSB0", 9600, "E", 1, 7)  # 7E1: 10 bits
TCP = Endpoint("modbus+tcp", "plc", 502)


def read(space: Space, count: int, unit: int = 1) -> ReadRequest[object]:
    return ReadRequest(space, unit, 0, count, ())


@pytest.mark.parametrize(
    ("space", "count", "framing", "sizes"),
    [
        # RTU: unit, fc, start, count, CRC = 8; unit, fc, byte count, data, CRC = 5 + data
        (Space.HOLDING_REGISTER, 10, "rtu", (8, 25)),
        (Space.INPUT_REGISTER, 125, "rtu", (8, 255)),
        (Space.COIL, 10, "rtu", (8, 7)),  # 10 bits in 2 bytes
        (Space.DISCRETE_INPUT, 16, "rtu", (8, 7)),
        (Space.DISCRETE_INPUT, 17, "rtu", (8, 8)),
        # ASCII: ':' + two hex characters per byte (frame and LRC) + CR LF
        (Space.HOLDING_REGISTER, 10, "ascii", (1 + 2 * 7 + 2, 1 + 2 * 24 + 2)),
        (Space.COIL, 1, "ascii", (17, 1 + 2 * 5 + 2)),
        # Modbus TCP: MBAP header (7, unit included) + PDU
        (Space.HOLDING_REGISTER, 10, "socket", (12, 29)),
    ],
)
def test_exchange_bytes(space, count, framing, sizes):
    assert exchange_bytes(read(space, count), framing) == sizes


def test_an_unknown_framing_is_an_error():
    with pytest.raises(ValueError, match="framing 'udp'"):
        exchange_bytes(read(Space.COIL, 1), "udp")


def test_char_time_and_silence():
    assert char_time_s(RTU) == pytest.approx(11 / 19200)
    assert silence_s(RTU) == pytest.approx(3.5 * 11 / 19200)  # 2.005 ms
    fast = Endpoint("modbus+rtu", "", 0, "/dev/ttyUSB0", 115200, "N", 1, 8)
    assert char_time_s(fast) == pytest.approx(10 / 115200)
    assert silence_s(fast) == 0.00175  # fixed above 19200 baud
    behind = Endpoint("modbus+rtu-tcp", "moxa", 4001, "", 9600, "N", 2, 8)
    assert silence_s(behind) == pytest.approx(3.5 * 11 / 9600)  # the line behind the server
    assert char_time_s(ASCII) == pytest.approx(10 / 9600)
    assert silence_s(Endpoint("modbus+rtu", "", 0, "/dev/ttyS0", parity="N")) == pytest.approx(
        3.5 * 10 / 19200
    )  # 8N1: ten bits a character
    assert silence_s(Endpoint("modbus+rtu", "", 0, "/dev/ttyS0", baudrate=115200)) == 0.00175
    assert silence_s(ASCII) == 0.0  # ASCII frames are delimited by ':' and CR LF
    assert (char_time_s(TCP), silence_s(TCP)) == (0.0, 0.0)


def scan(requests, interval_s=1.0, pause_s=0.0, device="cell01", turnaround_s=0.005):
    return ScanPlan(
        device, 1, interval_s, tuple(requests), pause_s=pause_s, turnaround_s=turnaround_s
    )


def test_scan_wire_time_counts_bytes_silences_turnaround_and_pause():
    s = scan([read(Space.HOLDING_REGISTER, 10), read(Space.COIL, 10)], pause_s=0.01)
    char = 11 / 19200
    silence = 3.5 * char
    expected = (8 + 25 + 8 + 7) * char + 2 * (2 * silence + 0.004 + 0.01)
    assert scan_wire_s(RTU, s, 0.004) == pytest.approx(expected)


def test_scan_wire_time_in_ascii_has_no_silences():
    s = scan([read(Space.HOLDING_REGISTER, 10)])
    assert scan_wire_s(ASCII, s, 0.0) == pytest.approx((17 + 51) * 10 / 9600)


def test_scan_wire_time_of_modbus_tcp_is_none_of_a_line():
    assert scan_wire_s(TCP, scan([read(Space.HOLDING_REGISTER, 10)]), 0.005) == 0.0


def test_bus_load_is_wire_seconds_per_second_over_every_scan():
    fast = scan([read(Space.HOLDING_REGISTER, 10)], interval_s=0.1, turnaround_s=0.002)
    slow = scan([read(Space.HOLDING_REGISTER, 10)], interval_s=2.0, device="cell02")
    plan = ConnectionPlan(RTU, 1.0, 1, ("cell01", "cell02"), (fast, slow))
    expected = scan_wire_s(RTU, fast, 0.002) / 0.1 + scan_wire_s(RTU, slow, 0.005) / 2.0
    assert bus_load(plan) == pytest.approx(expected)
    assert bus_load(ConnectionPlan(TCP, 1.0, 1, ("a",), (fast,))) == 0.0
