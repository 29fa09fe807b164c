"""End-to-end gateway throughput with the durable SQLite buffer against the memory buffer,
measured in the same run: Modbus server -> collector -> pipeline -> line protocol -> buffer
-> forwarder -> a sink that only counts.

    python -m bench.throughput [--devices N] [--tags M] [--seconds S]

Four devices on their own endpoints, 500 float32 tags each, scanned back to back (a 1 ms
scan rate overruns, so scans follow each other); the server runs in the same process, so its
CPU is part of the cost. Prints samples per second and CPU per sample, and the SQLite rate as a
fraction of the memory rate (the issue asks for at least two thirds). Figures appended to
bench/results/throughput.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from bench import results
from gateway.buffer.memory import MemoryBuffer
from gateway.buffer.sqlite import SqliteBuffer
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import Space
from gateway.runtime.app import Gateway
from gateway.runtime.forwarder import Forwarder
from simulators.modbus_server import RegisterBank, start_modbus_server

DEVICES, TAGS, SECONDS = 4, 500, 4.0


class CountingSink:
    """Accepts everything and counts the fields written."""

    name = "count"

    def __init__(self) -> None:
        self.samples = 0

    async def start(self) -> None:
        return None

    async def write(self, lines: Sequence[str]) -> None:
        self.samples += sum(line.count("_quality=") for line in lines)

    async def close(self) -> None:
        return None


async def run(
    kind: str, endpoints: list[str], directory: str, tags: int, seconds: float
) -> tuple[float, float]:
    devices = tuple(
        ModbusDevice.model_validate(
            {
                "name": f"d{n}",
                "endpoint": endpoint,
                "scan_rate": 0.001,
                "timeout": 2,
                "tags": [
                    {
                        "name": f"t{i}",
                        "space": "holding_register",
                        "address": 2 * i,
                        "type": "float32",
                    }
                    for i in range(tags)
                ],
            }
        )
        for n, endpoint in enumerate(endpoints)
    )
    sink = CountingSink()
    buffer = (
        MemoryBuffer(name="count")
        if kind == "memory"
        else SqliteBuffer(f"{directory}/{kind}.sqlite", name="count")
    )
    forwarder = Forwarder(buffer, sink, batch_size=5000, flush_interval=0.2)
    gateway = Gateway(compile_connections(devices), [forwarder], commit_interval=0.2)
    cpu, wall = time.process_time(), time.perf_counter()
    await gateway.run(duration=seconds)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return sink.samples / wall, cpu / max(1, sink.samples) * 1e6


async def main_async(devices: int, tags: int, seconds: float) -> dict[str, Any]:
    servers = []
    for _ in range(devices):
        bank = RegisterBank()
        bank.unit(1).set(Space.HOLDING_REGISTER, 0, [0x4000 + i % 256 for i in range(2 * tags)])
        servers.append(await start_modbus_server(bank))
    endpoints = [s.endpoint for s in servers]
    found: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as directory:
        for kind in ("memory", "sqlite", "memory", "sqlite"):  # interleaved, best of two
            rate, cost = await run(kind, endpoints, directory, tags, seconds)
            best = found.get(kind, (0.0, 0.0))
            found[kind] = max(best, (rate, cost))
    for server in servers:
        await server.stop()
    (mem, mem_cpu), (sql, sql_cpu) = found["memory"], found["sqlite"]
    print(f"end to end, {devices} devices x {tags} float32 tags, {seconds:g} s per run:")
    print(f"  memory buffer (baseline): {mem:,.0f} samples/s, {mem_cpu:.2f} us CPU/sample")
    print(
        f"  SQLite buffer (durable):  {sql:,.0f} samples/s, {sql_cpu:.2f} us CPU/sample; "
        f"{sql / mem:.0%} of the baseline throughput"
    )
    return {
        "devices": devices,
        "tags": tags,
        "seconds": seconds,
        "memory_samples_per_s": mem,
        "memory_us_cpu_per_sample": mem_cpu,
        "sqlite_samples_per_s": sql,
        "sqlite_us_cpu_per_sample": sql_cpu,
        "sqlite_fraction_of_memory": sql / mem if mem else None,
    }


async def drain_rate(directory: str, scans: int = 20_000) -> float:
    """Samples per second a backlog in the SQLite buffer drains at (25-tag lines, like a cell
    scan of the bundled plant) to a sink that accepts at once."""
    from gateway.model import Point, Quality, Sample
    from gateway.sinks.lineprotocol import encode_lines
    from gateway.testing import soon

    points = [Point.build("cell01", f"t{i}", "cell", f"t{i}", {"site": "x"}) for i in range(25)]
    lines = encode_lines(
        Sample(p, 1.5 + i, Quality.GOOD, 1_795_000_000_000_000_000 + scan * 1_000_000_000)
        for scan in range(scans)
        for i, p in enumerate(points)
    )
    buffer = SqliteBuffer(f"{directory}/drain.sqlite", name="count")
    await buffer.open()
    buffer.put(lines)
    await buffer.persist()
    sink = CountingSink()
    forwarder = Forwarder(buffer, sink, batch_size=5000)
    began = time.perf_counter()
    await forwarder.flush(soon(600))
    rate = sink.samples / (time.perf_counter() - began)
    await buffer.close()
    return rate


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__)
    parser.add_argument("--devices", type=int, default=DEVICES)
    parser.add_argument("--tags", type=int, default=TAGS)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    parser.add_argument("--backlog-scans", type=int, default=20_000, help="25-sample lines")
    args = parser.parse_args(argv)
    figures = asyncio.run(main_async(args.devices, args.tags, args.seconds))
    with tempfile.TemporaryDirectory() as directory:
        rate = asyncio.run(drain_rate(directory, args.backlog_scans))
    live = 12 * 25 + 12 * 16 / 2 + 16  # the bundled plant: cells at 1 s, feeders at 2 s
    print(
        f"  backlog drain from the SQLite buffer: {rate:,.0f} samples/s, {rate / live:,.0f}x "
        f"the live rate of the bundled plant ({live:.0f} samples/s)"
    )
    figures |= {"backlog_drain_samples_per_s": rate, "plant_live_samples_per_s": live}
    results.write("throughput", figures)
    return figures


if __name__ == "__main__":
    main()
