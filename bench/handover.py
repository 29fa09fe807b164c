"""The live cycle of a buffer, as the gateway runs it: put() one scan's lines, persist() once
per commit, then the forwarder's begin() + ack() of what was just committed. CPU per line
(process time, the SQLite worker thread included) for the SQLite buffer against the memory
buffer, in the same run.

    python -m bench.handover

Two shapes, best of 3: small lines (~150 bytes, 40 per put, 1000 per commit, 200 commits) and
Modbus responses (one line of 66 samples, ~2.2 kB, 9 per put, 99 per commit, 100 commits).
Also counts the SQL statements per commit (sqlite3's trace callback), and the drain rate of a
backlog read back from disk after a restart (nothing in memory), as lines/s.

    python -m bench.handover --latency

Latency with the default settings of a tag map (`buffer.commit_interval`, `sinks.flush_interval`,
0.5 s each since 2026-12-02, 1 s before; batch_size 5000):
a gateway without collectors puts one 40-line scan every 10 ms into the SQLite buffer for 20 s;
the sink notes when each line arrives (wall time, from put to the sink's write: the commit,
the hand-over and the forwarder's wait; not the database). Prints p50/p99/max.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.buffer import lines
from gateway.buffer.base import Buffer
from gateway.buffer.memory import MemoryBuffer
from gateway.buffer.sqlite import SqliteBuffer
from gateway.config.models import BufferConfig, SinksConfig
from gateway.runtime.app import Gateway
from gateway.runtime.forwarder import Forwarder

SCAN, SCANS, COMMITS = 40, 25, 200  # the small lines: per put, puts per commit, commits
SAMPLES = 66  # per line in the response shape (bench.throughput: 66 samples, 2.5 kB per line)


def responses(n: int) -> list[str]:
    """One line per Modbus response of 66 float32 tags (~2.2 kB)."""
    fields = ",".join(f"t{k}={1000 + k / 7:.6f},t{k}_quality=192i" for k in range(SAMPLES))
    return [
        f"cell,device=d{i % 4},source=modbus {fields} {1_795_717_767_884 + i}" for i in range(n)
    ]


async def cycle(buf: Buffer, data: list[str], scan: int = SCAN, scans: int = SCANS) -> None:
    """Put, commit and forward `data` scan by scan, commit by commit."""
    per_commit = scan * scans
    for start in range(0, len(data), per_commit):
        for i in range(start, start + per_commit, scan):
            buf.put(data[i : i + scan])
        await buf.persist()
        while (batch := await buf.begin(5000)) is not None:
            await buf.ack(batch)


async def cost(
    make: Callable[[], Buffer], data: list[str], scan: int = SCAN, scans: int = SCANS
) -> tuple[float, float]:
    """Best CPU µs per line and lines/s (wall) over 3 fresh buffers."""
    cpus, walls = [], []
    for _ in range(3):
        buf = make()
        await buf.open()
        cpu, wall = time.process_time(), time.perf_counter()
        await cycle(buf, data, scan, scans)
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
    return count / (len(data) // (SCAN * SCANS))


async def backlog(path: Path, data: list[str]) -> float:
    """Lines/s of begin(5000) + ack over a backlog that is only on disk (reopened)."""
    buf = SqliteBuffer(path)
    await buf.open()
    for i in range(0, len(data), SCAN * SCANS):
        buf.put(data[i : i + SCAN * SCANS])
        await buf.persist()
    await buf.close()
    buf = SqliteBuffer(path)
    await buf.open()
    start = time.perf_counter()
    while (batch := await buf.begin(5000)) is not None:
        await buf.ack(batch)
    rate = len(data) / (time.perf_counter() - start)
    assert buf.stats.sent == len(data)
    await buf.close()
    return rate


async def run(commits: int = COMMITS) -> None:
    data = lines(SCAN * SCANS * commits)
    mem_cpu, mem_rate = await cost(lambda: MemoryBuffer(max_lines=len(data)), data)
    with tempfile.TemporaryDirectory() as tmp:
        files = (Path(tmp) / f"h{i}.db" for i in range(10))
        sql_cpu, sql_rate = await cost(lambda: SqliteBuffer(next(files)), data)
        per_commit = await statements(next(files), data)
        disk = max([await backlog(next(files), data) for _ in range(3)])
    print(
        f"live cycle, {len(data):,} lines, {SCAN} lines/put, {SCAN * SCANS} lines/commit, "
        f"begin(5000) + ack after each commit:"
    )
    print(f"  MemoryBuffer: {mem_cpu:.2f} us CPU/line, {mem_rate:,.0f} lines/s")
    print(
        f"  SqliteBuffer: {sql_cpu:.2f} us CPU/line, {sql_rate:,.0f} lines/s, "
        f"{per_commit:.1f} SQL statements per commit"
    )
    print(f"  backlog read back from disk after a restart: drain {disk:,.0f} lines/s")
    big = responses(9 * 11 * commits // 2)
    mem_cpu, mem_rate = await cost(lambda: MemoryBuffer(max_lines=len(big)), big, 9, 11)
    with tempfile.TemporaryDirectory() as tmp:
        files = (Path(tmp) / f"r{i}.db" for i in range(10))
        sql_cpu, sql_rate = await cost(lambda: SqliteBuffer(next(files)), big, 9, 11)
        disk = max([await backlog(next(files), big) for _ in range(3)])
    size = sum(map(len, big)) / len(big)
    print(f"live cycle, {len(big):,} Modbus-response lines of {size:,.0f} bytes, 9/put, 99/commit:")
    print(f"  MemoryBuffer: {mem_cpu:.2f} us CPU/line, {mem_rate:,.0f} lines/s")
    print(
        f"  SqliteBuffer: {sql_cpu:.2f} us CPU/line ({(sql_cpu - mem_cpu) / SAMPLES:.3f} us per "
        f"sample more than memory), {sql_rate:,.0f} lines/s = {sql_rate * SAMPLES:,.0f} samples/s"
    )
    print(
        f"  backlog read back from disk after a restart: drain {disk:,.0f} lines/s = "
        f"{disk * SAMPLES:,.0f} samples/s"
    )


class ArrivalSink:
    """Notes the arrival time of every line (the line's last field is its put time)."""

    name = "arrival"

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def start(self) -> None:
        return None

    async def write(self, lines: Sequence[str]) -> None:
        now = time.perf_counter()
        self.delays.extend(now - float(line.rsplit(" ", 1)[1]) for line in lines)

    async def close(self) -> None:
        return None


async def latency(seconds: float = 20.0) -> None:
    """p50/p99/max of put -> sink with the default settings."""
    sink = ArrivalSink()
    with tempfile.TemporaryDirectory() as tmp:
        flush, commit = SinksConfig().flush_interval, BufferConfig().commit_interval
        forwarder = Forwarder(SqliteBuffer(Path(tmp) / "l.db"), sink, flush_interval=flush)
        gateway = Gateway([], [forwarder], commit_interval=commit)
        task = asyncio.create_task(gateway.run(drain_timeout=5))
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            now = time.perf_counter()
            gateway.put([f"m,d=d{i} v={i}i {now!r}" for i in range(SCAN)])
            await asyncio.sleep(0.01)
        gateway.stop()
        await task
    d = sorted(sink.delays)
    print(
        f"latency put -> sink, defaults, {len(d):,} lines over {seconds:g} s: "
        f"p50 {d[len(d) // 2]:.3f} s, p99 {d[int(len(d) * 0.99)]:.3f} s, max {d[-1]:.3f} s"
    )


def main() -> None:
    asyncio.run(latency() if "--latency" in sys.argv[1:] else run())


if __name__ == "__main__":
    main()
