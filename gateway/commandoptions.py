"""The options of `gateway once`, `run` and `demo` (what they take, not what they do: that is
in cli.py), and the argparse types they use. Building them imports nothing heavy: `gateway`
builds its whole parser for every command."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def positive_int(text: str) -> int:
    """An integer >= 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected 1 or more")
    return value


def _number(what: str, expected: str, zero: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 (or from 0, with `zero`)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"{text!r}: expected {expected}")
        return value

    return parse


#: a strictly positive, finite number of seconds
seconds = _number("a number of seconds", "a positive number of seconds")
#: 0 or more seconds
seconds_or_zero = _number("a number of seconds", "0 or more seconds", zero=True)
#: a strictly positive, finite number (a speed, a factor)
positive_number = _number("a number", "a positive number")


def add_once_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", default="ms", choices=["ns", "us", "ms", "s"])
    p.add_argument(
        "--raw",
        action="store_true",
        help="after each line, a # comment per value: what it was decoded from "
        "(Modbus registers, OPC UA variant type and status code)",
    )


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--duration",
        type=seconds,
        default=None,
        metavar="S",
        help="stop after S seconds (default: until SIGINT/SIGTERM)",
    )
    p.add_argument(
        "--drain-timeout",
        type=seconds,
        default=None,
        metavar="S",
        help="how long to keep writing buffered data when stopping "
        "(default: buffer.drain_timeout, 10 s)",
    )
    p.add_argument(
        "--health-port",
        type=int,
        default=None,
        metavar="P",
        help="port of /healthz, /readyz and /metrics (default: health.port, 9273; 0 disables)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        metavar="N",
        help="worker processes sharing the connections, one per core (default: run.workers, 1)",
    )
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # I/N: a worker
    p.add_argument("--link-fd", type=int, default=None, help=argparse.SUPPRESS)


def add_demo_parser(sub: Any, func: Callable[[argparse.Namespace], int]) -> None:
    """`gateway demo` and its options, run by `func`."""
    demo = sub.add_parser(
        "demo",
        help="simulated plant -> gateway -> files or InfluxDB, live view",
        description="The simulated plant and the gateway in one process, with a live view.\n"
        "Without INFLUXDB_V2_URL each run writes a file of its own,\n"
        "DATA_DIR/demo-YYYYmmddTHHMMSS.lp (its start in UTC); the buffer is DATA_DIR/buffer.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument(
        "--duration",
        type=seconds,
        default=None,
        metavar="S",
        help="stop after S wall seconds (default: until Ctrl-C)",
    )
    demo.add_argument(
        "--speed", type=seconds, default=30.0, help="plant speed (x real time, default 30)"
    )
    demo.add_argument(
        "--cells",
        type=int,
        default=12,
        choices=range(1, 13),
        metavar="1..12",
        help="cells in the potline (default 12)",
    )
    demo.add_argument(
        "--scenario",
        default=None,
        metavar="FILE|NAME",
        help="scenario file, or a bundled scenario's name (default: anode-effect-storm)",
    )
    demo.add_argument(
        "--data-dir", default="data", help="where each run's .lp file goes (default: data)"
    )
    demo.add_argument(
        "--mappings",
        default=None,
        metavar="DIR",
        help="tag-map folder (default: the source tree's mappings/, else the image's "
        "/etc/plc-gateway/mappings)",
    )
    demo.set_defaults(func=func)
