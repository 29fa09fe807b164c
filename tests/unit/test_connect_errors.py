"""Connect errors described by what went wrong, from the OSError alone (pure: no traffic)."""

from __future__ import annotations

import errno
import socket

import pytest

from gateway.collectors.modbus.link import describe_connect_error


def describe(exc: BaseException | None) -> str:
    return describe_connect_error(exc, "plc7.plant", 502, 1.5)


def test_name_resolution() -> None:
    exc = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert describe(exc) == (
        "name resolution failed for plc7.plant:502 (Name or service not known)"
    )


def test_refused() -> None:
    exc = ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
    assert describe(exc) == "connection refused by plc7.plant:502 (nothing listens on that port)"


@pytest.mark.parametrize("code", [errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EHOSTDOWN])
def test_unreachable(code: int) -> None:
    exc = OSError(code, "No route")
    assert describe(exc) == "plc7.plant:502 unreachable (No route)"


def test_timed_out() -> None:
    assert describe(None) == "connection to plc7.plant:502 timed out after 1.5s"
    assert describe(TimeoutError()) == "connection to plc7.plant:502 timed out after 1.5s"
    # OSError(ETIMEDOUT) is a TimeoutError too
    assert describe(OSError(errno.ETIMEDOUT, "Connection timed out")) == (
        "connection to plc7.plant:502 timed out after 1.5s"
    )


def test_several_addresses_of_one_host_take_the_first_errno() -> None:
    # Python 3.11 merges the errors of every address into one OSError without an errno
    exc = OSError(
        "Multiple exceptions: [Errno 111] Connect call failed ('::1', 502, 0, 0), "
        "[Errno 113] Connect call failed ('127.0.0.1', 502)"
    )
    assert describe(exc).startswith("connection refused by plc7.plant:502")


def test_anything_else_keeps_the_system_message() -> None:
    exc = OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
    assert describe(exc) == "cannot connect to plc7.plant:502: Cannot assign requested address"
