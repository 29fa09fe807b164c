"""The Modbus RTU options of `python -m simulators plant|replay`, and the start line's account
of what they set up."""

from __future__ import annotations

import argparse
from typing import Any

from simulators.argtypes import baud, duration, fraction, port
from simulators.rtu_wire import PACE_CHOICES, Line


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--modbus-rtu",
        action="append",
        default=[],
        metavar="DEV",
        help="also serve Modbus RTU on this serial device, e.g. one end of a socat pty pair "
        "(repeatable: one line each)",
    )
    p.add_argument(
        "--modbus-rtu-tcp-port",
        type=port,
        default=None,
        metavar="P",
        help="also serve RTU frames over TCP on this port (0 picks a free one)",
    )
    p.add_argument("--modbus-rtu-baud", type=baud, default=19200, metavar="N")
    p.add_argument("--modbus-rtu-parity", default="E", choices=["N", "E", "O"])
    p.add_argument("--modbus-rtu-stopbits", type=int, default=1, choices=[1, 2])
    p.add_argument("--modbus-rtu-bytesize", type=int, default=8, choices=[7, 8])
    p.add_argument(
        "--modbus-rtu-turnaround",
        type=duration,
        default=0.001,
        metavar="DURATION",
        help="the device's think time before it answers (paced lines; default 1ms)",
    )
    p.add_argument(
        "--modbus-rtu-pace",
        default="on",
        choices=PACE_CHOICES,
        help="emulate the line's speed: on (serial lines, default), all (RTU over TCP too), off",
    )
    p.add_argument(
        "--modbus-corrupt",
        type=fraction,
        default=0.0,
        metavar="FRACTION",
        help="damage this fraction of RTU answer frames (bad CRC, cut short, garbage byte); "
        "seeded by --seed",
    )


def rtu_config(args: argparse.Namespace) -> Any:
    """The RtuConfig the options ask for, or None without an RTU transport."""
    from simulators.rtu_server import RtuConfig

    if not args.modbus_rtu and args.modbus_rtu_tcp_port is None:
        if args.modbus_corrupt:
            raise ValueError("--modbus-corrupt needs --modbus-rtu or --modbus-rtu-tcp-port")
        return None
    line = Line(
        baudrate=args.modbus_rtu_baud,
        parity=args.modbus_rtu_parity,
        stopbits=args.modbus_rtu_stopbits,
        bytesize=args.modbus_rtu_bytesize,
        turnaround=args.modbus_rtu_turnaround,
    )
    return RtuConfig(
        devices=tuple(args.modbus_rtu),
        tcp_port=args.modbus_rtu_tcp_port,
        line=line,
        pace=args.modbus_rtu_pace,
        corrupt=args.modbus_corrupt,
        seed=getattr(args, "seed", 0),
    )


def rtu_summary(modbus: Any) -> str:
    """`, Modbus RTU modbus+rtu:///dev/x (19200 8E1, paced), Modbus RTU over TCP ...`"""
    rtu, text = modbus.rtu, ""
    line = rtu.line
    framing = f"{line.baudrate} {line.bytesize}{line.parity}{line.stopbits}"
    for endpoint in modbus.rtu_endpoints:
        text += (
            f", Modbus RTU {endpoint} ({framing}, {'paced' if rtu.pace != 'off' else 'unpaced'})"
        )
    if modbus.rtu_tcp_endpoint:
        text += f", Modbus RTU over TCP {modbus.rtu_tcp_endpoint}"
        text += f" (paced as {framing})" if rtu.pace == "all" else ""
    if rtu.corrupt:
        text += f", {rtu.corrupt:g} of RTU answers damaged"
    return text
