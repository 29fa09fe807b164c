"""End to end, the other links of a bus: RTU frames over TCP (a serial device server) against
the simulated plant, beside a serial port that does not exist; and `gateway once` against a
port that does not exist or refuses its settings. Real processes: the plant, the gateway,
VictoriaMetrics."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.e2e.counting import influx_env
from tests.e2e.rtuplant import RtuPlant, cell_map, samples, sinks
from tests.e2e.test_no_data_loss import free_port, get, poll
from tests.e2e.test_rtu_line import CELLS, FROZEN, database_values, once
from tests.processes import start_gateway

pytestmark = pytest.mark.e2e


async def test_rtu_over_tcp_is_read_beside_a_serial_port_that_does_not_exist(victoria, tmp_path):
    missing = tmp_path / "ttyUSB9"
    port = free_port()
    plant = await RtuPlant.start(*FROZEN, "--modbus-rtu-tcp-port", "0")
    gateway = None
    try:
        endpoints = await asyncio.wait_for(plant.endpoints, 60)
        reference = await once(cell_map(tmp_path / "tcp.yaml", endpoints["modbus+tcp"]))
        rtu_tcp = endpoints["modbus+rtu-tcp"]
        lost = cell_map(tmp_path / "lost.yaml", f"modbus+rtu://{missing}", [13])
        path = cell_map(
            tmp_path / "rtu-tcp.yaml",
            rtu_tcp,
            scan_rate="500ms",
            extra=sinks(tmp_path / "data", health=f"{{port: {port}}}"),
        )
        gateway = await start_gateway("run", str(path), str(lost), env=influx_env(victoria))
        export = await victoria.wait_for_series_async(
            lambda s: (
                set(got := samples(s, "cell_bath_temp")) == CELLS
                and all(len(points) >= 3 for points in got.values())
            ),
            60,
        )

        def down_and_up() -> str | None:
            status, text = get(f"http://127.0.0.1:{port}/metrics")
            down = f'gateway_connection_up{{endpoint="modbus+rtu://{missing}"}} 0'
            up = f'gateway_connection_up{{endpoint="{rtu_tcp}"}} 1'
            return text if status == 200 and down in text and up in text else None

        metrics = await poll(down_and_up, 30)
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200  # the gateway lives on
    finally:
        if gateway is not None:
            if gateway.returncode is None:
                gateway.terminate()
            _, err = await asyncio.wait_for(gateway.communicate(), 60)
        await plant.stop(patience=0)
    assert gateway.returncode == 0, err.decode()[-4000:]
    log = err.decode()
    assert "Traceback" not in log
    assert f"serial port {missing} does not exist" in log
    # the missing port is tried again with backoff, not in a tight loop
    attempts = re.search(
        rf'gateway_connection_connects_total{{endpoint="modbus\+rtu://{missing}"}} (\d+)', metrics
    )
    assert attempts
    assert 1 <= int(attempts[1]) <= 10
    # over RTU over TCP, every cell and tag, the values Modbus TCP reads
    for (device, field), values in database_values(victoria.export()).items():
        assert values == {float(reference[device][field])}, (device, field)
    assert {device for device, _ in database_values(export)} == CELLS  # cell13 never read


async def test_once_against_a_serial_port_that_does_not_exist_is_one_line(tmp_path):
    missing = tmp_path / "ttyUSB9"
    proc = await start_gateway(
        "once", str(cell_map(tmp_path / "a.yaml", f"modbus+rtu://{missing}"))
    )
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert bad_lines(err) == [
        f"BAD modbus+rtu://{missing}: not connected: serial port {missing} does not exist"
    ]


def bad_lines(err: bytes) -> list[str]:
    """The result lines of `gateway once` on stderr (beside them, the log's own WARNING line
    that the connection is down, as for Modbus TCP); never a traceback."""
    text = err.decode()
    assert "Traceback" not in text
    return [line for line in text.splitlines() if not re.match(r"\d{4}-\d\d-\d\d ", line)]


async def test_once_against_a_port_that_refuses_its_settings_is_one_line(tmp_path, serial_line):
    master, _device = serial_line  # a pty refuses parity E when pyserial sets it up again
    proc = await start_gateway("once", str(cell_map(tmp_path / "a.yaml", f"modbus+rtu://{master}")))
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert bad_lines(err) == [
        f"BAD modbus+rtu://{master}: not connected: "
        f"serial port {master} refused the line settings 19200 8E1 "
        "(a pty takes no parity: use parity=N)"
    ]
