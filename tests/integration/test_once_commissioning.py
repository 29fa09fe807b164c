"""`gateway once` for commissioning: `--raw` (what each value was decoded from), the hint to
`gateway probe` for an implausible value, and what it logs about a dead device."""

from __future__ import annotations

import asyncio
import logging
import shlex
import socket
from pathlib import Path

from gateway.cli import main
from gateway.collectors.modbus.types import Space
from gateway.sinks.lineprotocol import parse_line
from simulators.modbus_server import ModbusServerHandle, RegisterBank, start_modbus_server
from tests.busserver import serve_rtu_tcp


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_once_does_not_claim_to_retry_a_dead_device(tmp_path: Path, caplog, capsys) -> None:
    port = closed_port()
    path = tmp_path / "dead.yaml"
    path.write_text(
        "devices:\n"
        "  - name: flowmeter\n"
        f"    endpoint: modbus+tcp://127.0.0.1:{port}\n"
        "    tags:\n"
        "      - {name: flow, space: holding_register, address: 100, type: float32}\n"
    )
    with caplog.at_level(logging.INFO):
        assert main(["once", str(path)]) == 1
    down = [r.getMessage() for r in caplog.records if " down: " in r.getMessage()]
    assert down == [
        f"Modbus modbus+tcp://127.0.0.1:{port} down: connection refused by "
        f"127.0.0.1:{port} (nothing listens on that port)."
    ]
    assert "retrying" not in caplog.text
    assert f"BAD modbus+tcp://127.0.0.1:{port}: not connected: " in capsys.readouterr().err


# flow = 1234.5 (float32 0x449A5000) at holding registers 100..101 in CDAB order, 235 at
# 102, a float32 NaN (0x7FC00000, ABCD) at 103..104
REGISTERS = [0x0000, 0x5000, 0x449A, 0x00EB, 0x7FC0, 0x0000]  # at 99..104


async def start_plant() -> ModbusServerHandle:
    bank = RegisterBank()
    bank.unit(7).set(Space.HOLDING_REGISTER, 99, REGISTERS)
    bank.unit(7).set(Space.COIL, 0, [True])
    return await start_modbus_server(bank)


def write_map(path: Path, endpoint: str, devices: str) -> Path:
    path.write_text("devices:\n" + devices.replace("ENDPOINT", endpoint))
    return path


GOOD_MAP = """\
  - name: flowmeter
    endpoint: ENDPOINT
    unit_id: 7
    byte_order: CDAB
    tags:
      - {name: flow, space: holding_register, address: 100, type: float32, range: [0, 5000]}
      - {name: pulses, space: holding_register, address: 102, type: uint16,
         scale: {factor: 0.1}}
      - {name: valve, space: coil, address: 0}
"""

WRONG_MAP = """\
  - name: offbyone
    endpoint: ENDPOINT
    unit_id: 7
    byte_order: CDAB
    tags:
      - {name: flow, space: holding_register, address: 101, type: float32, range: [0, 5000]}
  - name: nanmeter
    endpoint: ENDPOINT
    unit_id: 7
    tags:
      - {name: level, space: holding_register, address: 103, type: float32}
"""


async def once(capsys, *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["once", *argv])  # main runs its own event loop
    out, err = capsys.readouterr()
    return code, out, err


async def test_once_raw_shows_the_registers_of_each_value(tmp_path: Path, capsys) -> None:
    server = await start_plant()
    try:
        path = write_map(tmp_path / "good.yaml", server.endpoint, GOOD_MAP)
        code, raw_out, err = await once(capsys, "--raw", str(path))
        plain = await once(capsys, str(path))
    finally:
        await server.stop()
    assert code == 0, err
    assert "hint:" not in err
    comments = [line for line in raw_out.splitlines() if line.startswith("#")]
    assert comments == [
        "# flowmeter valve=True <- coil 0 [1]",
        "# flowmeter flow=1234.5 <- HR 100..101 [0x5000 0x449A] float32 CDAB",
        "# flowmeter pulses=23.5 <- HR 102 [0x00EB] uint16",
    ]
    lines = raw_out.splitlines()
    for i, line in enumerate(lines):  # a line is followed by one comment per value in it
        if not line.startswith("#"):
            values = [k for k in parse_line(line)[2] if not k.endswith("_quality")]
            after = [c.split()[2].split("=")[0] for c in lines[i + 1 : i + 1 + len(values)]]
            assert after == values

    def fields(lines: list[str]) -> dict[str, object]:
        found: dict[str, object] = {}
        for line in lines:
            found.update(parse_line(line)[2])
        return found

    # the same values as without --raw (two scans: lines may split at other milliseconds)
    protocol = [line for line in lines if not line.startswith("#")]
    assert fields(protocol) == fields(plain[1].splitlines())
    assert "#" not in plain[1]  # without --raw: line protocol only


async def test_an_implausible_value_points_to_a_probe_that_works(tmp_path: Path, capsys):
    server = await start_plant()
    try:
        path = write_map(tmp_path / "wrong.yaml", server.endpoint, WRONG_MAP)
        code, out, err = await once(capsys, str(path))
        hints = [line for line in err.splitlines() if line.startswith("hint: ")]
        probe = f"gateway probe {server.endpoint} --unit 7 --space holding_register"
        assert hints == [
            "hint: offbyone.flow=2.1605951e-38 looks implausible (|x| < 1e-15); inspect it "
            f"with: {probe} --address 100 --count 4 --range=0:5000",
            "hint: nanmeter.level=nan looks implausible (NaN); inspect it with: "
            f"{probe} --address 102 --count 4",
        ]
        command = shlex.split(hints[0].split("inspect it with: ", 1)[1])
        assert command[:2] == ["gateway", "probe"]
        probed = await asyncio.to_thread(main, command[1:])
        shown = capsys.readouterr().out
    finally:
        await server.stop()
    assert code == 1  # the NaN is BAD
    assert "flow=2.1605951e-38" in out
    assert probed == 0
    assert "  address: 100, type: float32, byte_order: CDAB  -> 1234.5" in shown


async def test_once_raw_shows_the_registers_read_over_a_bus(tmp_path: Path, capsys) -> None:
    bank = RegisterBank()
    bank.unit(7).set(Space.HOLDING_REGISTER, 99, REGISTERS)
    server, port = await serve_rtu_tcp(bank)
    try:
        devices = WRONG_MAP.split("  - name: nanmeter")[0]  # the flow one register late
        path = write_map(tmp_path / "bus.yaml", f"modbus+rtu-tcp://127.0.0.1:{port}", devices)
        code, out, err = await once(capsys, "--raw", str(path))
        command = shlex.split(err.split("inspect it with: ", 1)[1].splitlines()[0])
        probed = await asyncio.to_thread(main, command[1:])
        shown = capsys.readouterr().out
    finally:
        await server.shutdown()
    assert probed == 0
    assert "  address: 100, type: float32, byte_order: CDAB  -> 1234.5" in shown
    assert code == 0, err
    assert "# offbyone flow=2.1605951e-38 <- HR 101..102 [0x449A 0x00EB] float32 CDAB" in out
    assert (
        f"inspect it with: gateway probe 'modbus+rtu-tcp://127.0.0.1:{port}?baudrate=19200&"
        "parity=E&stopbits=1&bytesize=8' --unit 7 --space holding_register --address 100 "
        "--count 4 --range=0:5000"
    ) in err
