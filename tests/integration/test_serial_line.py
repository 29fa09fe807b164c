"""The serial line the RTU tests run on: a socat pty pair carries bytes both ways."""

from __future__ import annotations

import os

import serial


def test_bytes_written_at_one_end_are_read_at_the_other(serial_line: tuple[str, str]) -> None:
    a, b = serial_line
    assert os.path.realpath(a).startswith("/dev/pts/")
    with serial.Serial(a, 19200, timeout=2) as left, serial.Serial(b, 19200, timeout=2) as right:
        left.write(b"\x01\x03\x00\x00\x00\x02\xc4\x0b")
        assert right.read(8) == b"\x01\x03\x00\x00\x00\x02\xc4\x0b"
        right.write(b"\x01\x03\x04")
        assert left.read(3) == b"\x01\x03\x04"
