"""What a bus delivered instead of an answer, the drain window, and why a port did not open."""

from __future__ import annotations

import errno

import pytest
import serial
from pymodbus.framer import FramerRTU

from gateway.collectors.modbus.busframes import (
    answer_fault,
    answer_size,
    drain_s,
)
from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.serialerrors import describe_serial_error


def rtu(frame: bytes) -> bytes:
    return frame + FramerRTU.compute_CRC(frame).to_bytes(2, "big")


def line(baudrate: int, scheme: str = "modbus+rtu", parity: str = "E") -> Endpoint:
    return Endpoint(scheme, "", 0, "/dev/ttyS0", baudrate=baudrate, parity=parity)


def test_the_drain_window_is_64_characters_and_at_least_50ms() -> None:
    assert drain_s(line(1200)) == pytest.approx(64 * 11 / 1200)
    assert drain_s(line(115200)) == 0.05


def test_answer_sizes() -> None:
    assert answer_size(3, 2) == 9  # unit, fc, count, 4 data bytes, CRC
    assert answer_size(1, 9) == 7  # 9 bits: 2 bytes


def test_a_complete_frame_that_does_not_check_is_a_crc_error_at_once() -> None:
    good = rtu(bytes([1, 3, 4, 0, 1, 0, 2]))
    spoiled = good[:4] + bytes([good[4] ^ 0x10]) + good[5:]
    assert answer_fault(spoiled, 1, 3, 2, "rtu", timed_out=False) == "CRC error in the answer"
    exception = rtu(bytes([1, 0x83, 2]))
    assert answer_fault(exception[:-1] + b"\x00", 1, 3, 2, "rtu", timed_out=False) == (
        "CRC error in the answer"
    )


def test_fewer_bytes_wait_for_more_and_are_truncated_at_the_timeout() -> None:
    head = rtu(bytes([1, 3, 4, 0, 1, 0, 2]))[:6]
    assert answer_fault(head, 1, 3, 2, "rtu", timed_out=False) == ""
    assert answer_fault(head, 1, 3, 2, "rtu", timed_out=True) == "truncated answer (6 of 9 bytes)"
    assert answer_fault(b"", 1, 3, 2, "rtu", timed_out=True) == ""  # nothing: no response


def test_bytes_of_another_unit_or_noise_are_garbled() -> None:
    other = rtu(bytes([2, 3, 4, 0, 1, 0, 2]))
    assert answer_fault(other, 1, 3, 2, "rtu", timed_out=False) == (
        "garbled answer (9 bytes, no valid frame of unit 1)"
    )
    assert answer_fault(b"\xff\x00\x13", 1, 3, 2, "rtu", timed_out=True) == (
        "garbled answer (3 bytes, no valid frame of unit 1)"
    )
    assert answer_fault(b":0103", 1, 3, 2, "ascii", timed_out=False) == ""
    assert answer_fault(b":0103", 1, 3, 2, "ascii", timed_out=True) == (
        "garbled or truncated answer (5 bytes, no valid frame)"
    )


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (
            serial.SerialException(errno.ENOENT, "could not open port /dev/ttyUSB9: [Errno 2]"),
            "serial port /dev/ttyUSB9 does not exist",
        ),
        (
            serial.SerialException(errno.EACCES, "could not open port: [Errno 13]"),
            "permission denied opening serial port /dev/ttyUSB9 (the gateway's user needs to "
            "be in the group owning it, usually dialout)",
        ),
        (
            serial.SerialException(errno.EAGAIN, "Could not exclusively lock port"),
            "serial port /dev/ttyUSB9 is busy (locked or opened by another program)",
        ),
        (
            serial.SerialException("Could not configure port: (25, 'Inappropriate ioctl')"),
            "/dev/ttyUSB9 is not a serial port (not a tty)",
        ),
        (
            serial.SerialException("Could not configure port: (22, 'Invalid argument')"),
            "serial port /dev/ttyUSB9 refused the line settings 19200 8E1",
        ),
        (
            serial.SerialException(errno.ENXIO, "could not open port"),
            "serial port /dev/ttyUSB9 has no device behind it (adapter unplugged?)",
        ),
        (None, "cannot open serial port /dev/ttyUSB9 (timed out)"),
    ],
)
def test_why_a_serial_port_did_not_open(exc: BaseException | None, reason: str) -> None:
    assert describe_serial_error(exc, "/dev/ttyUSB9", "19200 8E1") == reason


async def test_a_bus_waits_at_shutdown_for_every_scans_requests_at_their_budget() -> None:
    from gateway.collectors.modbus.bus import ModbusBus
    from tests.busplan import bus_plan, device, on_line

    async def discard(_: object) -> None:
        return None

    timing = {"u1": (0.5, 1, 0.1), "u2": (0.2, 0, 0.0)}
    plan = bus_plan(on_line("/dev/ttyUSB9"), [device(1), device(2)], timing=timing)
    bus = ModbusBus(plan, discard)  # not connected: building opens nothing
    drain = 0.05  # 64 characters at 19200 8N1 are 33 ms: the 50 ms floor
    wire = (8 + 7) * 10 / 19200  # a one-register read and its answer
    # a try: a resync read and the read, each its timeout and wire time, then the drain
    per_u1 = (2 * (0.5 + wire) + drain) * 2 + 0.1
    per_u2 = (2 * (0.2 + wire) + drain) * 1
    assert bus.longest_scan_s() == pytest.approx(0.5 + 1.0 + drain + 3 * per_u1 + 3 * per_u2)


def test_a_longer_frame_than_asked_is_waited_for_and_is_no_crc_error() -> None:
    # a late answer of 2 registers to a read of 1, arriving byte by byte on a paced line:
    # at the read's own size (7 bytes) it is not yet a CRC error, it may be a frame to skip
    longer = rtu(bytes([1, 3, 4, 0, 1, 0, 2]))
    assert answer_fault(longer[:7], 1, 3, 1, "rtu", timed_out=False) == ""
    assert answer_fault(longer[:7], 1, 3, 1, "rtu", timed_out=True) == (
        "garbled answer (a longer frame than asked: a late answer?)"
    )
    # another unit's longer frame still arriving is waited for too (then skipped)
    other = rtu(bytes([2, 3, 4, 0, 1, 0, 2]))
    assert answer_fault(other[:7], 1, 3, 1, "rtu", timed_out=False) == ""
