"""`gateway probe ENDPOINT --unit N --space S --address A --count C [--range LO:HI]
[--expect V]`: one read of a block of registers (or bits) through the links `gateway run`
uses (TCP, serial RTU and ASCII, RTU over TCP), printed raw and decoded under every type and
byte order (probe.py), with a summary of the plausible decodings (probesummary.py).
The Modbus plugin contributes this subcommand to `gateway`: what Modbus Poll or a Quick
Client does when a new PLC is commissioned, from the tag-map vocabulary.

Exit codes: 0 read and printed; 1 the device could not be read (not reachable, no answer,
a Modbus exception: one line on stderr naming it); 2 a usage error or a bad endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from pymodbus.exceptions import ModbusException

from gateway.collectors.modbus.buslink import BusLink, NoAnswer
from gateway.collectors.modbus.collector import _READ
from gateway.collectors.modbus.endpoint import Endpoint, parse_endpoint
from gateway.collectors.modbus.extract import exception_reason
from gateway.collectors.modbus.link import CLOSED_BY_PEER, Link, LinkClosed, ModbusLink
from gateway.collectors.modbus.probe import (
    NUMERIC,
    decoding_lines,
    decodings,
    parse_range,
    register_lines,
)
from gateway.collectors.modbus.probeargs import usage_problem
from gateway.collectors.modbus.probesummary import summary_lines
from gateway.collectors.modbus.types import DataType, Space

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
ILLEGAL_ADDRESS = 2


class ProbeFailed(Exception):
    """The device could not be read; str() is the one line for the user."""


def _link(endpoint: Endpoint, timeout: float) -> Link:
    if endpoint.is_bus:
        return BusLink(endpoint, timeout=timeout, name=str(endpoint), on_closed=lambda: None)
    return ModbusLink(
        endpoint.host,
        endpoint.port,
        timeout=timeout,
        retries=0,
        name=str(endpoint),
        on_closed=lambda: None,
    )


#: what the user can try for the exceptions a wrong probe provokes
EXCEPTION_HINTS = {
    ILLEGAL_ADDRESS: "the device has no such registers: addresses are 0-based, try fewer",
    10: "the gateway in front of the device knows no path to it: check --unit",
    11: "nothing answered behind the gateway: check --unit",
}


def _exception_line(code: int, what: str) -> str:
    line = f"{exception_reason(code)} to a read of {what}"
    return f"{line} ({EXCEPTION_HINTS[code]})" if code in EXCEPTION_HINTS else line


async def read_block(
    endpoint: Endpoint, unit: int, space: Space, address: int, count: int, timeout: float
) -> list[int] | list[bool]:
    """The values of one read; ProbeFailed with why not."""
    if endpoint.is_bus and unit == 0:
        raise ProbeFailed("unit 0 is the broadcast address of a bus: nobody answers a read")
    what = f"{space.value} {address}..{address + count - 1} of unit {unit}"
    link = _link(endpoint, timeout)
    try:
        reason = await link.connect()
        if reason:
            raise ProbeFailed(reason)
        try:
            response = await link.read(_READ[space], address, count, unit)
        except NoAnswer as exc:
            raise ProbeFailed(f"no answer to a read of {what}: {exc.reason}") from None
        except LinkClosed:
            raise ProbeFailed(f"{CLOSED_BY_PEER} during a read of {what}") from None
        except ModbusException:  # pymodbus: no answer within the timeout
            raise ProbeFailed(f"no response within {timeout:g}s to a read of {what}") from None
    finally:
        link.close()
    if response.isError():
        raise ProbeFailed(_exception_line(response.exception_code, what))
    values = list(response.bits if space.is_bit else response.registers)[:count]
    if len(values) < count:
        raise ProbeFailed(f"short response to a read of {what}: {len(values)} values")
    return values


def report(
    args: argparse.Namespace,
    endpoint: Endpoint,
    values: list[int] | list[bool],
    limits: tuple[float, float] | None,
) -> list[str]:
    space = Space(args.space)
    end = args.address + args.count - 1
    kind = "bits" if space.is_bit else "registers"
    lines = [f"{endpoint} unit {args.unit} {space.value} {args.address}..{end} ({len(values)} "]
    lines[0] += f"{kind}, function {space.function})"
    lines += register_lines(args.address, values, bits=space.is_bit)
    if space.is_bit:
        return lines
    types = [DataType(t) for t in args.types] if args.types else NUMERIC
    registers = [int(v) for v in values]
    found = decodings(args.address, registers, limits, types)
    lines += decoding_lines(found)
    if limits is not None:
        lines += summary_lines(found, limits, args.expect)
    return lines


def run(args: argparse.Namespace) -> int:
    try:
        endpoint = parse_endpoint(args.endpoint)
        problem = usage_problem(args)
        if problem:
            raise ValueError(problem)
        limits = parse_range(args.range) if args.range is not None else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    space = Space(args.space)
    read = read_block(endpoint, args.unit, space, args.address, args.count, args.timeout)
    try:
        values = asyncio.run(read)
    except ProbeFailed as exc:
        print(f"error: {endpoint}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for line in report(args, endpoint, values, limits):
        print(line)
    return EXIT_OK
