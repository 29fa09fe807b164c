"""Fixtures shared by every test suite."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serialpair import pty_pair
from tests.vmserver import VictoriaMetrics


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A started VictoriaMetrics (InfluxDB v2 write API) with its data in tmp_path."""
    vm = VictoriaMetrics(tmp_path / "victoria-metrics")
    vm.start()
    try:
        yield vm
    finally:
        vm.stop()


# The ports a gateway (health 9273) and the simulated plant (Modbus 5020, OPC UA 4840) listen on
# by default, and VictoriaMetrics' (8428).
DEFAULT_PORTS = (9273, 5020, 4840, 8428)


@pytest.fixture
def serial_line(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A serial line: two pty devices joined by socat (gateway end, device end)."""
    with pty_pair(tmp_path) as ends:
        yield ends


@pytest.fixture(scope="session", autouse=True)
def default_ports_taken() -> Iterator[list[int]]:
    """Hold the default ports for the whole run, as a gateway or plant running on this machine
    would: a test that relies on one of them fails here rather than beside a real gateway.
    A port already taken by something else is left to it (it is taken either way)."""
    held: list[socket.socket] = []
    for port in DEFAULT_PORTS:
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            sock.close()
            continue
        held.append(sock)
    try:
        yield [s.getsockname()[1] for s in held]
    finally:
        for sock in held:
            sock.close()
