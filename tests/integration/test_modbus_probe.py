"""`gateway probe` against real pymodbus servers: a known float32 in CDAB order (flow =
1234.5 at holding registers 100..101, 235 in the next register), over TCP and over RTU on a
serial line, and the ways a read fails."""

from __future__ import annotations

import asyncio
import socket

import pytest

from gateway.cli import main
from gateway.collectors.modbus.types import Space
from simulators.modbus_server import RegisterBank, start_modbus_server
from tests.busserver import serve_serial

# 1234.5 is float32 0x449A5000; CDAB: the low word first
FLOW_REGISTERS = [0x0000, 0x5000, 0x449A, 0x00EB]  # at 99..102


def plant() -> RegisterBank:
    bank = RegisterBank()
    unit = bank.unit(7)
    unit.set(Space.HOLDING_REGISTER, 99, FLOW_REGISTERS)
    unit.set(Space.COIL, 0, [True, False, True])
    return bank


async def probe(capsys, *argv: str) -> tuple[int, str, str]:
    code = await asyncio.to_thread(main, ["probe", *argv])  # main runs its own event loop
    out, err = capsys.readouterr()
    return code, out, err


def decoded(out: str, address: int) -> dict[tuple[str, str], str]:
    """(type, order) -> the rest of the line, in the block of `address`."""
    block = out.split(f"at address {address}:\n", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in block.splitlines()[1:]:
        dtype, order, rest = line.split(maxsplit=2)
        rows[dtype, order] = rest
    return rows


def summary(out: str) -> list[str]:
    return out.split("plausible within ", 1)[1].splitlines()[1:]


async def test_probe_finds_the_cdab_float_within_its_range(capsys):
    server = await start_modbus_server(plant())
    try:
        code, out, err = await probe(
            capsys,
            server.endpoint,
            "--unit",
            "7",
            "--address",
            "99",
            "--count",
            "4",
            "--range",
            "0:5000",
        )
    finally:
        await server.stop()
    assert code == 0, err
    lines = out.splitlines()
    assert (
        lines[0] == f"{server.endpoint} unit 7 holding_register 99..102 (4 registers, function 3)"
    )
    assert lines[1:6] == [
        "address  hex     decimal",
        "     99  0x0000        0",
        "    100  0x5000    20480",
        "    101  0x449A    17562",
        "    102  0x00EB      235",
    ]
    at_flow = decoded(out, 100)
    assert at_flow["float32", "CDAB"].split() == ["1234.5", "plausible:", "in", "range"]
    for wrong in ("ABCD", "BADC", "DCBA"):
        assert "implausible" in at_flow["float32", wrong]
    assert at_flow["float32", "ABCD"].startswith("8.607918e+09")  # the wrong order
    one_off = decoded(out, 101)["float32", "CDAB"]  # the address off by one
    assert one_off.split() == ["2.1605951e-38", "implausible", "(|x|", "<", "1e-15)"]
    # the right float and its neighbour sharing its high word (1232.0287, off by 0.2 %) are
    # offered only as exclusive candidates, neither as the answer
    found = summary(out)
    group = found[found.index("  one of these (sharing register 101):") + 1 :][:2]
    assert group == [
        "    address: 100, type: float32, byte_order: CDAB  -> 1234.5",
        "    address: 101, type: float32, byte_order: ABCD  -> 1232.0287",
    ]
    assert not [line for line in found if line.startswith("  address:")]  # no plain answer
    assert not [f for f in found if "address: 100, type: float32" in f and "CDAB" not in f]


async def test_probe_expect_marks_the_value_the_hmi_shows(capsys):
    server = await start_modbus_server(plant())
    try:
        code, out, err = await probe(
            capsys,
            server.endpoint,
            *("--unit", "7", "--address", "99", "--count", "4", "--type", "float32"),
            *("--range", "0:5000", "--expect", "1234.5"),
        )
        alone = await probe(capsys, server.endpoint, "--address", "0", "--expect", "1")
    finally:
        await server.stop()
    assert code == 0, err
    assert summary(out)[-1] == (
        "closest to --expect 1234.5: address: 100, type: float32, byte_order: CDAB  -> 1234.5 "
        "(off by 0)"
    )
    assert alone[0] == 2
    assert alone[2] == "error: --expect ranks the decodings inside --range: give --range too\n"


async def test_probe_of_coils_prints_bits(capsys):
    server = await start_modbus_server(plant())
    try:
        code, out, _ = await probe(
            capsys,
            server.endpoint,
            "--unit",
            "7",
            "--space",
            "coil",
            "--address",
            "0",
            "--count",
            "3",
        )
    finally:
        await server.stop()
    assert code == 0
    assert out.splitlines()[1:] == ["address  value", "      0  1", "      1  0", "      2  1"]


async def test_probe_names_a_modbus_exception(capsys):
    server = await start_modbus_server(plant())
    try:
        code, out, err = await probe(
            capsys, server.endpoint, "--unit", "7", "--address", "101", "--count", "4"
        )
    finally:
        await server.stop()
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"error: {server.endpoint}: Modbus exception 2 (illegal data address) to a read of "
        "holding_register 101..104 of unit 7 (the device has no such registers: addresses "
        "are 0-based, try fewer)"
    ]


async def test_probe_of_a_unit_nobody_serves_or_a_silent_one_is_one_line(capsys):
    bank = plant()
    bank.unit(8).faults.silent = True
    server = await start_modbus_server(bank)
    try:
        unknown = await probe(capsys, server.endpoint, "--unit", "9", "--address", "99")
        silent = await probe(
            capsys, server.endpoint, "--unit", "8", "--address", "99", "--timeout", "0.2"
        )
    finally:
        await server.stop()
    assert unknown[0] == silent[0] == 1
    assert unknown[2].splitlines() == [
        f"error: {server.endpoint}: Modbus exception 11 (gateway target device failed to "
        "respond) to a read of holding_register 99..102 of unit 9 (nothing answered behind "
        "the gateway: check --unit)"
    ]
    assert silent[2].splitlines() == [
        f"error: {server.endpoint}: no response within 0.2s to a read of holding_register "
        "99..102 of unit 8"
    ]


async def test_probe_of_a_dead_device_is_one_line(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = await probe(capsys, f"modbus+tcp://127.0.0.1:{port}", "--address", "0")
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"error: modbus+tcp://127.0.0.1:{port}: connection refused by 127.0.0.1:{port} "
        "(nothing listens on that port)"
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["tcp://10.0.0.1", "--address", "0"], "error: 'tcp://10.0.0.1': unsupported scheme"),
        (["modbus+tcp://h:1", "--address", "0", "--count", "126"], "error: --count 126: one"),
        (["modbus+tcp://h:1", "--address", "0", "--range", "9:1"], "error: --range '9:1': "),
        (["modbus+tcp://h:1", "--address", "65535", "--count", "2"], "error: --address 65535"),
        (
            ["modbus+tcp://h:1", "--space", "coil", "--address", "0", "--type", "float32"],
            "error: --range and --type decode registers: coil holds bits",
        ),
    ],
)
def test_probe_usage_errors_exit_two(argv, message, capsys):
    assert main(["probe", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert len(err.splitlines()) == 1


async def test_probe_reads_rtu_on_a_serial_line(serial_line, capsys):
    gateway_end, device_end = serial_line
    server = await serve_serial(plant(), device_end)
    try:
        code, out, err = await probe(
            capsys,
            f"modbus+rtu://{gateway_end}?baudrate=19200&parity=N",
            "--unit",
            "7",
            "--address",
            "100",
            "--count",
            "2",
            "--type",
            "float32",
            "--range",
            "0:5000",
        )
        silent = await probe(
            capsys,
            f"modbus+rtu://{gateway_end}?parity=N",
            "--unit",
            "9",
            "--address",
            "100",
            "--timeout",
            "0.2",
        )
    finally:
        await server.shutdown()
    assert code == 0, err
    assert summary(out) == ["  address: 100, type: float32, byte_order: CDAB  -> 1234.5"]
    assert silent[0] == 1
    assert silent[2].splitlines() == [
        f"error: modbus+rtu://{gateway_end}: no answer to a read of holding_register "
        "100..103 of unit 9: no response within 0.2s"
    ]
