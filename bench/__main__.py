"""Benchmarks: throughput and CPU cost per sample, as ratios against baselines run alongside.

    python -m bench            (or: make bench): everything below (figures appended to
                               bench/results/micro.jsonl), then bench.buffer and
                               bench.throughput (each also runs alone: python -m bench.buffer)

Printed, never asserted: the machines are shared and noisy. Each figure is the best of
several repetitions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from influxdb_client import Point as InfluxPoint
from influxdb_client import WritePrecision
from pymodbus.client import AsyncModbusTcpClient

from gateway.collectors.modbus.codec import decode
from gateway.collectors.modbus.collector import ModbusConnection
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import ByteOrder, DataType, Space
from gateway.model import Point, Quality, Sample
from gateway.pipeline import build_pipeline
from gateway.sinks.lineprotocol import Precision, encode_lines
from simulators.modbus_server import RegisterBank, start_modbus_server

TAGS = 500


def best(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best CPU seconds of `repeat` runs."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def samples(n: int) -> list[Sample]:
    tags = {"device": "cell01", "site": "baotou", "potline": "1"}
    points = [Point.build("cell01", f"t{i}", "cell", f"t{i}", tags) for i in range(n)]
    return [
        Sample(p, 1000.0 + i / 7, Quality.GOOD, 1_795_717_767_884_000_000)
        for i, p in enumerate(points)
    ]


def influx_points(batch: list[Sample]) -> list[str]:
    """Baseline: influxdb-client's Point objects, one per sample."""
    out = []
    for s in batch:
        p = InfluxPoint(s.point.measurement)
        for k, v in s.point.tags:
            p = p.tag(k, v)
        p = p.field(s.point.field, s.value).field(f"{s.point.field}_quality", int(s.quality))
        out.append(p.time(s.time_ns, WritePrecision.MS).to_line_protocol())
    return out


def bench_encode() -> dict[str, float]:
    batch = samples(20_000)
    ours = best(lambda: encode_lines(batch, Precision.MS))
    base = best(lambda: influx_points(batch), repeat=3)
    n = len(batch)
    print(
        f"line protocol: ours {n / ours:,.0f} samples/s ({ours / n * 1e6:.2f} us CPU/sample); "
        f"influxdb-client Point {n / base:,.0f} samples/s; ours is {base / ours:.1f}x faster"
    )
    return {"encode_us_per_sample": ours / n * 1e6, "encode_vs_point_speedup": base / ours}


def bench_decode() -> dict[str, float]:
    regs = [0xE979, 0x42F6]
    n = 200_000

    def ours() -> None:
        for _ in range(n):
            decode(regs, DataType.FLOAT32, ByteOrder.CDAB)

    def pymodbus() -> None:
        convert = AsyncModbusTcpClient.convert_from_registers
        f32 = AsyncModbusTcpClient.DATATYPE.FLOAT32
        for _ in range(n):
            convert(regs, f32, word_order="little")

    a, b = best(ours), best(pymodbus)
    print(
        f"float32 CDAB decode: ours {a / n * 1e9:.0f} ns, pymodbus convert_from_registers "
        f"{b / n * 1e9:.0f} ns; ratio {b / a:.1f}x"
    )
    return {"decode_ns": a / n * 1e9, "pymodbus_decode_ns": b / n * 1e9}


async def bench_scan() -> dict[str, float]:
    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [0x4000 + i for i in range(2 * TAGS)])
    server = await start_modbus_server(bank)
    tags = [
        {"name": f"t{i}", "space": "holding_register", "address": 2 * i, "type": "float32"}
        for i in range(TAGS)
    ]
    dev = ModbusDevice.model_validate({"name": "bench", "endpoint": server.endpoint, "tags": tags})
    (plan,) = compile_connections((dev,))
    conn = ModbusConnection(plan, lambda _: None)
    pipeline = build_pipeline(plan.scans[0].tags)
    await conn.scan_all()
    scans = 50

    async def full() -> None:
        for _ in range(scans):
            encode_lines(pipeline.apply(await conn.scan_all()))

    async def reads_only() -> None:
        for _ in range(scans):
            for req in plan.scans[0].requests:
                await conn.client.read_holding_registers(req.start, count=req.count, device_id=1)

    results = {}
    for name, job in (("baseline (raw pymodbus reads)", reads_only), ("gateway scan", full)):
        wall, cpu = [], []
        for _ in range(3):
            w, c = time.perf_counter(), time.process_time()
            await job()
            wall.append(time.perf_counter() - w)
            cpu.append(time.process_time() - c)
        results[name] = (min(wall), min(cpu))
    conn.close()
    await server.stop()
    n = scans * TAGS
    _base_wall, base_cpu = results["baseline (raw pymodbus reads)"]
    wall, cpu = results["gateway scan"]
    print(
        f"scan of {TAGS} float32 tags in {len(plan.scans[0].requests)} requests "
        f"(server in the same process): {n / wall:,.0f} samples/s, "
        f"{cpu / n * 1e6:.2f} us CPU/sample incl. server; decode+pipeline+encode adds "
        f"{(cpu - base_cpu) / n * 1e6:.2f} us/sample over the raw reads "
        f"({cpu / base_cpu:.2f}x the baseline CPU)"
    )
    return {
        "scan_samples_per_s": n / wall,
        "scan_us_cpu_per_sample": cpu / n * 1e6,
        "scan_cpu_vs_raw_reads": cpu / base_cpu,
    }


def main() -> None:
    from bench import buffer, results, throughput

    figures = {**bench_encode(), **bench_decode(), **asyncio.run(bench_scan())}
    results.write("micro", figures)
    buffer.main([])
    throughput.main([])


main()
