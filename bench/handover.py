"""The live cycle of a buffer, as the gateway runs it: put() one scan's lines, persist() once
per commit, then the forwarder's begin() + ack() of what was just committed. CPU per line
(process time, the SQLite worker thread included) for the SQLite buffer against the memory
buffer, in the same run.

    python -m bench.handover

Scans of 40 lines of ~150 bytes, 25 scans per commit (1000 lines), 200 commits; best of 3.
Also counts the SQL statements per commit (sqlite3's trace callback).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.buffer import lines
from gateway.buffer.base import Buffer
from gateway.buffer.memory import MemoryBuffer
from gateway.buffer.sqlite import SqliteBuffer

SCAN, SCANS, COMMITS = 40, 25, 200


async def cycle(buf: Buffer, data: list[str]) -> None:
    """Put, commit and forward `data` scan by scan, commit by commit."""
    per_commit = SCAN * SCANS
    for start in range(0, len(data), per_commit):
        for i in range(start, start + per_commit, SCAN):
            buf.put(data[i : i + SCAN])
        await buf.persist()
        while (batch := await buf.begin(5000)) is not None:
            await buf.ack(batch)


async def cost(make: Callable[[], Buffer], data: list[str]) -> tuple[float, float]:
    """Best CPU µs per line and lines/s (wall) over 3 fresh buffers."""
    cpus, walls = [], []
    for _ in range(3):
        buf = make()
        await buf.open()
        cpu, wall = time.process_time(), time.perf_counter()
        await cycle(buf, data)
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
        assert buf.stats.sent == len(data)
        assert buf.stats.depth == 0
        await buf.close()
    return min(cpus) / len(data) * 1e6, len(data) / min(walls)


async def statements(path: Path, data: list[str]) -> float:
    """SQL statements per commit in the live cycle."""
    buf = SqliteBuffer(path)
    await buf.open()
    count = 0

    def trace(_: str) -> None:
        nonlocal count
        count += 1

    assert buf._conn is not None
    buf._conn.set_trace_callback(trace)
    await cycle(buf, data)
    buf._conn.set_trace_callback(None)
    await buf.close()
    return count / COMMITS


async def run() -> None:
    data = lines(SCAN * SCANS * COMMITS)
    mem_cpu, mem_rate = await cost(lambda: MemoryBuffer(max_lines=len(data)), data)
    with tempfile.TemporaryDirectory() as tmp:
        files = (Path(tmp) / f"h{i}.db" for i in range(10))
        sql_cpu, sql_rate = await cost(lambda: SqliteBuffer(next(files)), data)
        per_commit = await statements(next(files), data)
    print(
        f"live cycle, {len(data):,} lines, {SCAN} lines/put, {SCAN * SCANS} lines/commit, "
        f"begin(5000) + ack after each commit:"
    )
    print(f"  MemoryBuffer: {mem_cpu:.2f} us CPU/line, {mem_rate:,.0f} lines/s")
    print(
        f"  SqliteBuffer: {sql_cpu:.2f} us CPU/line, {sql_rate:,.0f} lines/s, "
        f"{per_commit:.1f} SQL statements per commit"
    )


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
