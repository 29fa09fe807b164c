"""The `gateway` command: plan, once, check, exit codes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.collectors.modbus.types import Space
from gateway.sinks.lineprotocol import parse_line
from simulators.modbus_server import RegisterBank, start_modbus_server
from tests.processes import start_gateway

ROOT = Path(__file__).resolve().parents[2]


def write_map(path: Path, endpoint: str) -> Path:
    path.write_text(
        f"""devices:
  - name: rect
    endpoint: {endpoint}
    unit_id: 3
    max_gap: 2
    measurement: rectifier
    scan_groups: {{fast: 100ms}}
    tags:
      - {{name: current, space: input_register, address: 0, type: float32, scan: fast}}
      - {{name: voltage, space: input_register, address: 4, type: int16, scale: {{factor: 0.1}}}}
      - {{name: energy, space: input_register, address: 10, type: uint32}}
      - {{name: tripped, space: discrete_input, address: 7}}
"""
    )
    return path


def test_plan_prints_requests_per_device_and_rate(tmp_path, capsys):
    path = write_map(tmp_path / "r.yaml", "modbus+tcp://10.1.2.3:1502")
    assert main(["plan", str(path)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "connection modbus+tcp://10.1.2.3:1502 (timeout 1s, retries 1)",
        "  device rect unit 3 every 0.1s: 1 requests, 2 registers/bits, 1 tags",
        "    fc4 input_register unit 3 start 0 count 2: current",
        "  device rect unit 3 every 1s: 3 requests, 4 registers/bits, 3 tags",
        "    fc2 discrete_input unit 3 start 7 count 1: tripped",
        "    fc4 input_register unit 3 start 4 count 1: voltage",
        "    fc4 input_register unit 3 start 10 count 2: energy",
    ]


def test_check_valid_map_exits_zero(tmp_path, capsys):
    path = write_map(tmp_path / "r.yaml", "modbus+tcp://10.1.2.3:1502")
    assert main(["check", str(path)]) == 0
    assert capsys.readouterr().out.strip() == "OK: 1 devices, 4 tags in 1 files"


def test_check_invalid_map_exits_two_with_every_problem(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "devices:\n"
        "  - name: rect\n"
        "    endpoint: tcp://10.1.2.3\n"
        "    scan_rate: 0\n"
        "    tags:\n"
        "      - {name: v, space: input_register, address: 0, type: float32, bit: 3}\n"
    )
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3 devices[0].endpoint: " in err
    assert f"{path}:4 devices[0].scan_rate: " in err
    assert f"{path}:6 devices[0].tags[0].bit: " in err
    assert "3 problem(s) found." in err
    assert "Traceback" not in err


async def run_once(path: Path) -> tuple[int, str, str]:
    proc = await start_gateway("once", str(path))
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_once_prints_line_protocol_of_one_scan(tmp_path):
    bank = RegisterBank()
    unit = bank.unit(3)
    unit.set(Space.INPUT_REGISTER, 0, [0x4348, 0x0000])  # float32 200.0
    unit.set(Space.INPUT_REGISTER, 2, [0, 0, 4150])  # voltage 415.0 at 4
    unit.set(Space.INPUT_REGISTER, 10, [0x0001, 0x0000])  # 65536
    unit.set(Space.DISCRETE_INPUT, 7, [0])
    server = await start_modbus_server(bank)
    try:
        code, out, err = await run_once(write_map(tmp_path / "r.yaml", server.endpoint))
    finally:
        await server.stop()
    assert code == 0, err
    fields: dict[str, object] = {}
    for line in out.splitlines():
        measurement, tags, line_fields, _ = parse_line(line)
        assert (measurement, tags) == ("rectifier", {"device": "rect"})
        fields.update(line_fields)
    assert fields == {
        "current": 200.0,
        "current_quality": 0,
        "voltage": 415.0,
        "voltage_quality": 0,
        "energy": 65536,
        "energy_quality": 0,
        "tripped": False,
        "tripped_quality": 0,
    }


async def test_once_exits_one_and_names_bad_tags(tmp_path):
    bank = RegisterBank()
    bank.unit(3).set(Space.INPUT_REGISTER, 0, [0x4348, 0x0000])  # only `current` is defined
    server = await start_modbus_server(bank)
    try:
        code, out, err = await run_once(write_map(tmp_path / "r.yaml", server.endpoint))
    finally:
        await server.stop()
    assert code == 1
    assert "BAD rect.energy: Modbus exception 2 (illegal data address)" in err
    assert "BAD rect.tripped: Modbus exception 2 (illegal data address)" in err
    assert "current=200.0" in out
    assert 'energy_reason="Modbus exception 2 (illegal data address)"' in out


@pytest.mark.parametrize("argv", [["check"], ["frobnicate", "x"]])
def test_usage_errors_exit_two(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--log-level", "bogus", "check", "x.yaml"],
        ["run", "x.yaml", "--duration", "nan"],
        ["run", "x.yaml", "--duration", "-5"],
        ["run", "x.yaml", "--drain-timeout", "-1"],
    ],
)
def test_bad_arguments_are_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_a_sink_that_cannot_start_is_a_clear_error(tmp_path, capsys):
    path = write_map(tmp_path / "r.yaml", "modbus+tcp://127.0.0.1:1")
    path.write_text(path.read_text() + "sinks: {file: {directory: /proc/no/such/dir}}\n")
    assert main(["run", str(path), "--duration", "1", "--health-port", "0"]) == 2
    err = capsys.readouterr().err
    assert "error: " in err
    assert "/proc/no/such/dir" in err
    assert "Traceback" not in err


def test_an_influxdb_url_without_scheme_is_a_config_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("INFLUXDB_V2_URL", "localhost:8086")
    monkeypatch.setenv("INFLUXDB_V2_BUCKET", "b")
    path = write_map(tmp_path / "r.yaml", "modbus+tcp://127.0.0.1:1")
    assert main(["run", str(path), "--duration", "1", "--health-port", "0"]) == 2
    assert (
        "influxdb.url: 'localhost:8086' is not an http:// or https:// URL"
        in capsys.readouterr().err
    )


def test_a_health_port_in_use_is_a_clear_error(tmp_path, capsys):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    path = write_map(tmp_path / "r.yaml", "modbus+tcp://127.0.0.1:1")
    path.write_text(
        path.read_text()
        + f"buffer: {{directory: {tmp_path}/buffer}}\nsinks: {{file: {{directory: {tmp_path}}}}}\n"
    )
    try:
        code = main(["run", str(path), "--duration", "1", "--health-port", str(port)])
    finally:
        taken.close()
    err = capsys.readouterr().err
    assert code == 2
    assert f"health endpoint 127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_an_impossible_buffer_directory_is_a_clear_error(tmp_path, capsys):
    path = write_map(tmp_path / "r.yaml", "modbus+tcp://127.0.0.1:1")
    path.write_text(
        path.read_text()
        + f"buffer: {{directory: /proc/no/such/dir}}\nsinks: {{file: {{directory: {tmp_path}}}}}\n"
    )
    assert main(["run", str(path), "--duration", "1", "--health-port", "0"]) == 2
    err = capsys.readouterr().err
    assert "error: buffer of sink" in err
    assert "Traceback" not in err
