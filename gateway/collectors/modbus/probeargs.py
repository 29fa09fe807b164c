"""The command line of `gateway probe`, apart from the reading itself: `gateway` builds its
parser for every run, and pymodbus (~10 MB) is imported only when a probe runs. Also the
probe command that shows a tag's registers, as `gateway once` suggests it (pure)."""

from __future__ import annotations

import argparse
import math
import shlex

from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.probe import NUMERIC
from gateway.collectors.modbus.types import Space

HELP = "read a block of Modbus registers and print them decoded under every type and byte order"
#: registers shown on either side of a tag's own in the suggested probe (an address one off)
AROUND = 1
MAX_COUNT = {True: 2000, False: 125}  # per read: bits, registers (the Modbus limits)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "endpoint",
        metavar="ENDPOINT",
        help="modbus+tcp://host:port, modbus+rtu:///dev/ttyUSB0?baudrate=19200&parity=E, "
        "modbus+ascii:///dev/..., modbus+rtu-tcp://host:port (as in tag maps)",
    )
    parser.add_argument("--unit", type=int, default=1, metavar="N", help="unit id (default 1)")
    parser.add_argument(
        "--space",
        choices=[s.value for s in Space],
        default=Space.HOLDING_REGISTER.value,
        help="default holding_register",
    )
    parser.add_argument(
        "--address", type=int, required=True, metavar="A", help="first address (0-based)"
    )
    parser.add_argument(
        "--count", type=int, default=4, metavar="C", help="registers or bits to read (default 4)"
    )
    parser.add_argument(
        "--range",
        default=None,
        metavar="LO:HI",
        help="the values the tag can take (e.g. 0:5000; --range=-40:60 for a negative LO): "
        "decodings inside it are marked plausible",
    )
    parser.add_argument(
        "--expect",
        type=float,
        default=None,
        metavar="VALUE",
        help="the value the PLC's panel or HMI shows (with --range): the plausible decodings "
        "are ranked by how close they come to it and the closest is marked",
    )
    parser.add_argument(
        "--type",
        dest="types",
        action="append",
        choices=[t.value for t in NUMERIC],
        default=None,
        help="only these types (repeatable; default all)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1.0, metavar="S", help="per request (default 1)"
    )


def usage_problem(args: argparse.Namespace) -> str:
    """What is wrong with the arguments ("" when nothing): the limits of one Modbus read."""
    bits = Space(args.space).is_bit
    if not 0 <= args.unit <= 255:
        return f"--unit {args.unit}: expected 0..255"
    if not 0 <= args.address <= 65535:
        return f"--address {args.address}: expected 0..65535"
    most = MAX_COUNT[bits]
    if not 1 <= args.count <= most:
        return f"--count {args.count}: one read takes 1..{most} {'bits' if bits else 'registers'}"
    if args.address + args.count > 65536:
        return f"--address {args.address} --count {args.count} goes past address 65535"
    if bits and (args.range is not None or args.types):
        return f"--range and --type decode registers: {args.space} holds bits"
    if args.expect is not None and args.range is None:
        return "--expect ranks the decodings inside --range: give --range too"
    if args.expect is not None and not math.isfinite(args.expect):
        return f"--expect {args.expect}: expected a finite number"
    if not args.timeout > 0:
        return f"--timeout {args.timeout:g}: expected a positive number of seconds"
    return ""


def endpoint_url(endpoint: Endpoint) -> str:
    """The endpoint as a URL `gateway probe` takes, with the line settings of a bus."""
    if not endpoint.is_bus:
        return str(endpoint)
    e = endpoint
    line = f"baudrate={e.baudrate}&parity={e.parity}&stopbits={e.stopbits}&bytesize={e.bytesize}"
    return f"{e}?{line}"


def probe_command(
    endpoint: Endpoint,
    unit: int,
    space: Space,
    address: int,
    count: int,
    limits: tuple[float, float] | None,
) -> str:
    """The `gateway probe` command showing a tag's registers and `AROUND` more on each side
    (within the read limits), ready to paste into a shell."""
    first = max(0, address - AROUND)
    last = min(65535, address + count - 1 + AROUND)
    count = min(last - first + 1, MAX_COUNT[space.is_bit])
    words = ["gateway", "probe", shlex.quote(endpoint_url(endpoint)), "--unit", str(unit)]
    words += ["--space", space.value, "--address", str(first), "--count", str(count)]
    if limits is not None and not space.is_bit:
        words.append(f"--range={limits[0]:g}:{limits[1]:g}")
    return " ".join(words)
