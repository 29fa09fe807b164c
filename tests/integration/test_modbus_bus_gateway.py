"""A serial port that does not exist: `gateway once` says so in one line and fails; `gateway
run` keeps that connection DOWN with backoff while the other connections are read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway import cli
from gateway.collectors.modbus.bus import ModbusBus
from gateway.collectors.modbus.compile import compile_connections
from gateway.runtime.app import Gateway
from gateway.sinks.memory import MemorySink
from gateway.telemetry.metrics import collect, render_prometheus
from gateway.testing import memory_forwarders
from simulators.modbus_server import start_modbus_server
from tests.busplan import bus_plan, device, on_line
from tests.integration.test_modbus_bus import bank_of, until

pytestmark = pytest.mark.integration


def test_once_against_a_missing_serial_port_is_one_line_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "ttyUSB9")
    tagmap = tmp_path / "line.yaml"
    tagmap.write_text(
        "devices:\n"
        + "".join(
            f"  - name: u{unit}\n"
            f"    endpoint: modbus+rtu://{missing}?baudrate=9600&parity=N\n"
            f"    unit_id: {unit}\n"
            "    tags: [{name: r0, space: holding_register, address: 0}]\n"
            for unit in (1, 2)
        )
    )
    assert cli.main(["once", str(tagmap)]) == cli.EXIT_FAILED
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"BAD modbus+rtu://{missing}: not connected: serial port {missing} does not exist"
    ]


async def test_run_keeps_a_missing_port_down_with_backoff_and_reads_the_others(tmp_path: Path):
    missing = str(tmp_path / "ttyUSB9")
    server = await start_modbus_server(bank_of(3))
    tcp = compile_connections([device(3, endpoint=server.endpoint, scan_rate=0.1)])
    bus = bus_plan(on_line(missing), [device(1, scan_rate=0.1)])
    sink = MemorySink()
    gateway = Gateway([bus, *tcp], memory_forwarders(sink), commit_interval=0.05)
    down = gateway.connections[0]
    assert isinstance(down, ModbusBus)

    def good(name: str) -> int:
        return sum(1 for _, t, f, _ in sink.parsed() if t["device"] == name and f.get("r0") == 3000)

    task = asyncio.create_task(gateway.run())
    try:
        await until(lambda: down.devices["u1"].scans >= 15 and good("u3") >= 15)
        metrics = render_prometheus(collect(gateway, 0))
    finally:
        gateway.stop()
        await task
        await server.stop()
    assert f'gateway_connection_up{{endpoint="modbus+rtu://{missing}"}} 0' in metrics
    assert f'gateway_connection_up{{endpoint="{server.endpoint}"}} 1' in metrics
    # 15 scans at 0.1 s, but connects only as the backoff (0.5 s doubling) allows
    assert 1 <= down.stats.connects <= 5 < down.devices["u1"].scans
    assert down.stats.connect_failures == down.stats.connects
    bad = [f for _, t, f, _ in sink.parsed() if t["device"] == "u1"]
    assert bad
    assert all("r0" not in f for f in bad)  # never a value for a tag that was not read
