"""The Modbus RTU options of `python -m simulators plant|replay`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from gateway.config.durations import parse_duration
from simulators.rtu_wire import PACE_CHOICES, Line


def _baud(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"baud rate must be a positive whole number, not {text!r}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"fraction must be between 0 and 1, not {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        return float(parse_duration(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(p: argparse.ArgumentParser, port: Callable[[str], int]) -> None:
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
    p.add_argument("--modbus-rtu-baud", type=_baud, default=19200, metavar="N")
    p.add_argument("--modbus-rtu-parity", default="E", choices=["N", "E", "O"])
    p.add_argument("--modbus-rtu-stopbits", type=int, default=1, choices=[1, 2])
    p.add_argument("--modbus-rtu-bytesize", type=int, default=8, choices=[7, 8])
    p.add_argument(
        "--modbus-rtu-turnaround",
        type=_seconds,
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
        type=_fraction,
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
