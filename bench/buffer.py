"""Buffer throughput: how many lines per second the SQLite buffer persists and drains, with
fsync off and on, against the in-memory buffer measured in the same run.

    python -m bench.buffer [--lines N] [--repeat R]

Persist: put() batches of 1000 lines of ~150 bytes, persist() after each (one transaction).
Drain: begin(5000) + ack() until empty. Wall time (the disk is part of it); best of 3 runs.

Then the same with lines shaped like those of the default Modbus benchmark (one line per read
response: 62 float32 fields and their `_quality` fields), in samples/s, and the drain as a
multiple of that benchmark's live rate: the samples/s its latest result counted in the
database (bench/results/modbus.jsonl), else the 10,000 samples/s it offers (the record says
which). Target of issue 9: at least 5x. Figures appended to bench/results/buffer.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import results
from gateway.buffer.base import Buffer
from gateway.buffer.memory import MemoryBuffer
from gateway.buffer.sqlite import SqliteBuffer

PUT_BATCH = 1000
DRAIN_BATCH = 5000
FIELDS_PER_LINE = 62  # float32 tags in one 125-register read (the Modbus benchmark's lines)
MODBUS_OFFERED = 10_000.0  # samples/s of the default Modbus benchmark (50 x 200 at 1 s)


def lines(n: int) -> list[str]:
    """Line protocol of the size the gateway writes (~150 bytes)."""
    return [
        f"cell,device=cell{i % 40:02d},site=baotou,potline=1,area=reduction,unit=kA,source=modbus "
        f"t{i % 500}={1000 + i / 7:.6f},t{i % 500}_quality=192i,seq={i}i "
        f"{1_795_717_767_884_000_000 + i * 1_000_000}"
        for i in range(n)
    ]


async def fill(buf: Buffer, data: list[str]) -> None:
    for i in range(0, len(data), PUT_BATCH):
        buf.put(data[i : i + PUT_BATCH])
        await buf.persist()


async def drain(buf: Buffer) -> None:
    while (batch := await buf.begin(DRAIN_BATCH)) is not None:
        await buf.ack(batch)


def modbus_lines(n: int) -> list[str]:
    """Lines as the Modbus benchmark's gateway writes them: one per response."""
    out = []
    for i in range(n):
        fields = ",".join(
            f"t{k}={k + i / 1000:.7g},t{k}_quality=192i" for k in range(FIELDS_PER_LINE)
        )
        out.append(f"bench,device=d{i % 50:03d} {fields} {1_795_717_767_884 + i * 10}")
    return out


async def rates(make: Callable[[], Buffer], data: list[str], repeat: int) -> tuple[float, float]:
    """Best persist and drain rates (lines/s) over `repeat` fresh buffers."""
    fills, drains = [], []
    for _ in range(repeat):
        buf = make()
        await buf.open()
        start = time.perf_counter()
        await fill(buf, data)
        fills.append(time.perf_counter() - start)
        start = time.perf_counter()
        await drain(buf)
        drains.append(time.perf_counter() - start)
        assert buf.stats.sent == len(data)
        await buf.close()
    return len(data) / min(fills), len(data) / min(drains)


def live_rate() -> tuple[float, str]:
    """The default Modbus benchmark's live rate (samples/s) and where it comes from."""
    last = results.latest("modbus")
    scenario = (last or {}).get("scenario", {})
    shape = (scenario.get("devices"), scenario.get("tags"), scenario.get("interval_s"))
    if last and shape == (50, 200, 1.0):
        rate = float(last["gateway"]["samples_per_s"])
        return rate, f"bench/results/modbus.jsonl of {last['date']} ({last['git_revision']})"
    return MODBUS_OFFERED, "offered by the default Modbus benchmark (no result of it found)"


async def run(count: int, repeat: int) -> dict[str, Any]:
    data = lines(count)
    size = sum(map(len, data)) / len(data)
    base_fill, base_drain = await rates(lambda: MemoryBuffer(max_lines=len(data)), data, repeat)
    print(
        f"buffer, {len(data):,} lines of {size:.0f} bytes, persist {PUT_BATCH}/transaction, "
        f"drain {DRAIN_BATCH}/batch; baseline MemoryBuffer: put {base_fill:,.0f} lines/s, "
        f"drain {base_drain:,.0f} lines/s"
    )
    figures: dict[str, Any] = {
        "lines": len(data),
        "line_bytes": round(size),
        "memory_put_lines_per_s": base_fill,
        "memory_drain_lines_per_s": base_drain,
    }
    with tempfile.TemporaryDirectory() as tmp:
        files = (Path(tmp) / f"bench{i}.db" for i in range(100))

        def sqlite(fsync: bool) -> Buffer:
            return SqliteBuffer(next(files), fsync=fsync)

        for fsync in (False, True):
            fill_rate, drain_rate = await rates(partial(sqlite, fsync), data, repeat)
            name = "fsync_on" if fsync else "fsync_off"
            figures[f"sqlite_{name}_persist_lines_per_s"] = fill_rate
            figures[f"sqlite_{name}_drain_lines_per_s"] = drain_rate
            print(
                f"  SqliteBuffer fsync={'on ' if fsync else 'off'}: persist {fill_rate:,.0f} "
                f"lines/s ({base_fill / fill_rate:.1f}x slower than memory), drain "
                f"{drain_rate:,.0f} lines/s ({base_drain / drain_rate:.1f}x slower)"
            )
        shaped = modbus_lines(max(1, count // 20))
        fill_rate, drain_rate = await rates(partial(sqlite, False), shaped, repeat)
    live, source = live_rate()
    persist_samples, drain_samples = fill_rate * FIELDS_PER_LINE, drain_rate * FIELDS_PER_LINE
    figures |= {
        "modbus_lines": len(shaped),
        "modbus_line_bytes": round(sum(map(len, shaped)) / len(shaped)),
        "modbus_persist_samples_per_s": persist_samples,
        "modbus_drain_samples_per_s": drain_samples,
        "live_samples_per_s": live,
        "live_rate_source": source,
        "drain_multiple_of_live": drain_samples / live,
    }
    print(
        f"  Modbus-shaped lines ({FIELDS_PER_LINE} float32 each, SQLite, fsync off): persist "
        f"{persist_samples:,.0f} samples/s, drain {drain_samples:,.0f} samples/s = "
        f"{drain_samples / live:.1f}x the live rate {live:,.0f} samples/s ({source}); "
        "target >= 5x"
    )
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench.buffer", description=__doc__)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    figures = asyncio.run(run(args.lines, args.repeat))
    results.write("buffer", {"repeat": args.repeat, **figures})
    return figures


if __name__ == "__main__":
    main()
