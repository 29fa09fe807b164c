"""Buffer throughput: how many lines per second the SQLite buffer persists and drains, with
fsync off and on, against the in-memory buffer measured in the same run.

    python -m bench.buffer

Persist: put() batches of 1000 lines of ~150 bytes, persist() after each (one transaction).
Drain: begin(5000) + ack() until empty. Wall time (the disk is part of it); best of 3 runs.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from gateway.buffer.base import Buffer
from gateway.buffer.memory import MemoryBuffer
from gateway.buffer.sqlite import SqliteBuffer

PUT_BATCH = 1000
DRAIN_BATCH = 5000


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


async def rates(make: Callable[[], Buffer], data: list[str]) -> tuple[float, float]:
    """Best persist and drain rates (lines/s) over 3 fresh buffers."""
    fills, drains = [], []
    for _ in range(3):
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


async def run() -> None:
    data = lines(200_000)
    size = sum(map(len, data)) / len(data)
    base_fill, base_drain = await rates(lambda: MemoryBuffer(max_lines=len(data)), data)
    print(
        f"buffer, {len(data):,} lines of {size:.0f} bytes, persist {PUT_BATCH}/transaction, "
        f"drain {DRAIN_BATCH}/batch; baseline MemoryBuffer: put {base_fill:,.0f} lines/s, "
        f"drain {base_drain:,.0f} lines/s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        files = (Path(tmp) / f"bench{i}.db" for i in range(100))

        def sqlite(fsync: bool) -> Buffer:
            return SqliteBuffer(next(files), fsync=fsync)

        for fsync in (False, True):
            fill_rate, drain_rate = await rates(partial(sqlite, fsync), data)
            print(
                f"  SqliteBuffer fsync={'on ' if fsync else 'off'}: persist {fill_rate:,.0f} "
                f"lines/s ({base_fill / fill_rate:.1f}x slower than memory), drain "
                f"{drain_rate:,.0f} lines/s ({base_drain / drain_rate:.1f}x slower)"
            )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
