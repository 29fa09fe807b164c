"""Micro-benchmarks of the Modbus fast path, each against what it replaced, in the same run:

    python -m bench.fastpath

- one response of 125 registers (62 float32 tags, an int16): the Sample path (`extract`,
  pipeline, `encode_lines`) against the fast path (one unpack, one template);
- pymodbus decoding that response: its own response classes (which build `str()` of every
  response for a DEBUG message, and unpack each register alone) against the link's;
- the always-written `<field>_quality` fields: CPU and bytes, with and without;
- a collector's sleep between scans: two tasks and `asyncio.wait` against one timer.

Figures are CPU microseconds (process time), best of a few repeats; the machine is shared,
so compare the ratios printed side by side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import struct
import time
from collections.abc import Callable

from pymodbus.pdu import DecodePDU

from gateway.clock import SystemClock
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.extract import extract
from gateway.collectors.modbus.fastpath import compile_response, decode_values, encode_values
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.responses import RESPONSES
from gateway.collectors.schedule import Stop, sleep_or_stop
from gateway.pipeline import build_pipeline
from gateway.sinks.floats import float32_texts
from gateway.sinks.lineprotocol import encode_lines, stamp

T0 = 1_796_000_000_123_456_789
REPEATS = 5


def cpu_us(job: Callable[[], object], rounds: int) -> float:
    """Best CPU microseconds per call of `job` over REPEATS runs of `rounds` calls."""
    best = float("inf")
    for _ in range(REPEATS):
        began = time.process_time()
        for _ in range(rounds):
            job()
        best = min(best, time.process_time() - began)
    return best / rounds * 1e6


def response_plan():
    tags = [
        {"name": f"t{i}", "space": "holding_register", "address": 2 * i, "type": "float32"}
        for i in range(62)
    ]
    tags.append({"name": "n", "space": "holding_register", "address": 124, "type": "int16"})
    device = ModbusDevice.model_validate(
        {"name": "plc", "endpoint": "modbus+tcp://h:1", "metadata": {"site": "x"}, "tags": tags}
    )
    (plan,) = compile_connections([device])
    (request,) = plan.scans[0].requests
    values = struct.unpack(">62f", struct.pack(">62f", *(230.0 + i / 7 for i in range(62))))
    registers = [*struct.unpack(">124H", struct.pack(">62f", *values)), 42]
    return plan, request, registers


def bench_response() -> None:
    plan, request, registers = response_plan()
    pipeline = build_pipeline(plan.tag_plans())
    fast = compile_response(request)
    assert fast is not None
    count = len(request.spans)

    def sample_path() -> list[str]:
        return encode_lines(pipeline.apply(extract(request, registers, T0)))

    def fast_path() -> list[str]:
        decoded = decode_values(fast, registers)
        assert decoded is not None
        return stamp([encode_values(fast, decoded, T0)])

    slow_us, fast_us = cpu_us(sample_path, 2000), cpu_us(fast_path, 2000)
    print(f"one response, {count} values (62 float32, 1 int16):")
    print(f"  Sample path: {slow_us / count:.2f} us/value")
    print(f"  fast path:   {fast_us / count:.2f} us/value ({slow_us / fast_us:.1f}x less)")
    print(f"  bytes per value: {len(chr(10).join(fast_path())) / count:.1f}")
    singles = decode_values(fast, registers)[: fast.singles]  # type: ignore[index]
    short = sum(map(len, float32_texts(singles))) / len(singles)
    long = sum(len(repr(v)) for v in singles) / len(singles)
    print(f"  a float32 value's text: {short:.1f} characters (its float64 repr: {long:.1f})")
    bench_quality(fast, registers, count)


def bench_quality(fast, registers: list[int], count: int) -> None:
    bare = dataclasses.replace(fast, template=re.sub(r",[^,= ]+_quality=0i", "", fast.template))
    decoded = decode_values(fast, registers)
    assert decoded is not None

    def lines(plan) -> list[str]:
        return stamp([encode_values(plan, decoded, T0)])

    with_us, without_us = cpu_us(lambda: lines(fast), 2000), cpu_us(lambda: lines(bare), 2000)
    with_b, without_b = len("\n".join(lines(fast))), len("\n".join(lines(bare)))
    print("the `<field>_quality` fields (GOOD values, fast path):")
    print(
        f"  with: {with_us / count:.3f} us/value, {with_b / count:.1f} bytes/value; "
        f"without: {without_us / count:.3f} us/value, {without_b / count:.1f} bytes/value "
        f"(+{with_us / without_us - 1:.0%} CPU, +{with_b / without_b - 1:.0%} bytes)"
    )


def bench_pymodbus() -> None:
    frame = bytes([3, 250]) + bytes(250)  # function 3, 125 registers
    default, quiet = DecodePDU(False), DecodePDU(False)
    for response in RESPONSES:
        quiet.register(response)
    default_us = cpu_us(lambda: default.decode(frame), 5000)
    quiet_us = cpu_us(lambda: quiet.decode(frame), 5000)
    print("pymodbus decoding a 125-register response:")
    print(
        f"  its classes: {default_us:.1f} us; the link's (quiet, one unpack): {quiet_us:.1f} us "
        f"({default_us - quiet_us:.1f} us, {1 - quiet_us / default_us:.0%} less)"
    )


async def sleeps(stop: asyncio.Event, rounds: int) -> float:
    clock = SystemClock()
    began = time.process_time()
    for _ in range(rounds):
        await sleep_or_stop(clock, 1e-6, stop)
    return (time.process_time() - began) / rounds * 1e6


def bench_sleep() -> None:
    plain = min(asyncio.run(sleeps(asyncio.Event(), 5000)) for _ in range(REPEATS))
    timer = min(asyncio.run(sleeps(Stop(), 5000)) for _ in range(REPEATS))
    print("one sleep between scans (the loop's own wake-up included):")
    print(f"  two tasks + asyncio.wait: {plain:.1f} us; one timer: {timer:.1f} us")


def main() -> None:
    bench_response()
    bench_pymodbus()
    bench_sleep()


if __name__ == "__main__":
    main()
