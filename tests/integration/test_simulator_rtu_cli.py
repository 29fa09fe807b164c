"""`python -m simulators plant` with Modbus RTU: the flags, what it announces, bad values."""

from __future__ import annotations

import asyncio
import re

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.framer import FramerType

from simulators.cli import build_parser
from simulators.rtu_args import rtu_config
from simulators.rtu_wire import Line
from tests.integration.test_simulator_cli import finished, simulators

pytestmark = pytest.mark.integration


async def announced(proc: asyncio.subprocess.Process) -> str:
    """The "Plant running: ..." line of a simulator's stderr."""
    assert proc.stderr is not None
    while True:  # bounded by the wait_for
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line, "the simulator exited early"
        if "Plant running:" in line:
            return line


async def test_plant_serves_rtu_on_a_pty_and_over_tcp(serial_line) -> None:
    master, device = serial_line
    proc = await simulators(
        "plant", "--cells", "2", "--no-opcua", "--modbus-port", "0",
        "--modbus-rtu", device, "--modbus-rtu-tcp-port", "0",
        "--modbus-rtu-baud", "38400", "--modbus-fault", "cell02:exception=6",
    )  # fmt: skip
    try:
        line = await announced(proc)
        assert f"Modbus RTU modbus+rtu://{device} (38400 8E1, paced)" in line
        match = re.search(r"Modbus RTU over TCP modbus\+rtu-tcp://127\.0\.0\.1:(\d+)", line)
        assert match, line
        serial = AsyncModbusSerialClient(master, baudrate=38400, parity="N", timeout=5, retries=0)
        assert await serial.connect()
        try:
            cell = await serial.read_input_registers(0, count=25, device_id=1)
            assert not cell.isError()
            busy = await serial.read_input_registers(0, count=2, device_id=2)
            assert busy.exception_code == 6  # --modbus-fault applies to every transport
        finally:
            serial.close()
        tcp = AsyncModbusTcpClient(
            "127.0.0.1", port=int(match.group(1)), framer=FramerType.RTU, timeout=5, retries=0
        )
        assert await tcp.connect()
        try:
            rectifier = await tcp.read_input_registers(0, count=14, device_id=100)
            assert not rectifier.isError()
        finally:
            tcp.close()
    finally:
        proc.terminate()
        code, err = await finished(proc)
    assert code == 0, err


async def test_a_serial_device_that_does_not_exist_is_a_clear_error(tmp_path) -> None:
    missing = tmp_path / "no-such-tty"
    proc = await simulators(
        "plant", "--no-opcua", "--modbus-port", "0", "--modbus-rtu", str(missing)
    )
    code, err = await finished(proc)
    assert code == 2
    assert "error:" in err
    assert str(missing) in err
    assert "Traceback" not in err


async def test_corruption_without_an_rtu_transport_is_refused() -> None:
    proc = await simulators("plant", "--no-opcua", "--modbus-port", "0", "--modbus-corrupt", "0.1")
    code, err = await finished(proc)
    assert code == 2
    assert "--modbus-corrupt needs --modbus-rtu or --modbus-rtu-tcp-port" in err


def test_flags_build_the_rtu_config() -> None:
    args = build_parser().parse_args(
        ["plant", "--modbus-rtu", "/tmp/a", "--modbus-rtu", "/tmp/b",
         "--modbus-rtu-tcp-port", "0", "--modbus-rtu-baud", "9600",
         "--modbus-rtu-parity", "N", "--modbus-rtu-stopbits", "2", "--modbus-rtu-bytesize", "8",
         "--modbus-rtu-turnaround", "5ms", "--modbus-rtu-pace", "all",
         "--modbus-corrupt", "0.05", "--seed", "9"]
    )  # fmt: skip
    config = rtu_config(args)
    assert config is not None
    assert config.devices == ("/tmp/a", "/tmp/b")
    assert config.tcp_port == 0
    assert config.line == Line(baudrate=9600, parity="N", stopbits=2, bytesize=8, turnaround=0.005)
    assert (config.pace, config.corrupt, config.seed) == ("all", 0.05, 9)


def test_defaults_are_the_gateways_modbus_rtu_defaults() -> None:
    config = rtu_config(build_parser().parse_args(["plant", "--modbus-rtu", "/tmp/a"]))
    assert config is not None
    assert config.line == Line(baudrate=19200, parity="E", stopbits=1, bytesize=8, turnaround=0.001)
    assert (config.tcp_port, config.pace, config.corrupt) == (None, "on", 0.0)
    assert rtu_config(build_parser().parse_args(["plant"])) is None


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--modbus-rtu-baud", "0", "baud rate must be a positive whole number"),
        ("--modbus-rtu-baud", "fast", "baud rate must be a positive whole number"),
        ("--modbus-rtu-parity", "X", "invalid choice: 'X'"),
        ("--modbus-rtu-stopbits", "3", "invalid choice: 3"),
        ("--modbus-rtu-bytesize", "9", "invalid choice: 9"),
        ("--modbus-rtu-turnaround", "soon", "'soon' is not a duration"),
        ("--modbus-rtu-pace", "maybe", "invalid choice: 'maybe'"),
        ("--modbus-rtu-tcp-port", "70000", "port must be 0..65535"),
        ("--modbus-corrupt", "1.5", "fraction must be between 0 and 1"),
        ("--modbus-corrupt", "-0.1", "fraction must be between 0 and 1"),
    ],
)
def test_bad_values_are_named(flag, value, message, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["plant", flag, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert flag in err
    assert message in err


def test_replay_takes_the_same_rtu_flags() -> None:
    args = build_parser().parse_args(["replay", "run.lp", "--modbus-rtu-tcp-port", "0"])
    config = rtu_config(args)
    assert config is not None
    assert (config.tcp_port, config.seed) == (0, 0)
