"""Acknowledgements by the batch's own rows: drop_oldest leaves gaps in the row ids (it spares
the rows in flight and deletes those behind them), so a partial ack must not assume that the ids
of a batch are consecutive. A seeded property test runs the real Forwarder over both buffers
with a sink that fails, answers 413 or accepts at random, the buffer overflowing and (SQLite)
the disk filling meanwhile, and checks what a historian counts on: every line delivered at most
once and in order, and the counters adding up exactly."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.buffer.memory import MemoryBuffer
from gateway.buffer.sqlite import SqliteBuffer
from gateway.errors import PayloadTooLargeError, RetryableSinkError
from gateway.runtime.forwarder import EMPTY, Forwarder
from gateway.testing import FakeClock


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[SqliteBuffer]:
    buf = SqliteBuffer(tmp_path / "b.db", max_lines=10, when_full="drop_oldest")
    await buf.open()
    yield buf
    await buf.close()


def values(start: int, stop: int) -> list[str]:
    return [f"m v={i}i {i}" for i in range(start, stop)]


def value(line: str) -> int:
    return int(line.split()[-1])


async def test_a_partial_ack_after_a_gap_in_the_ids_removes_exactly_the_lines_written(
    sqlite: SqliteBuffer,
):
    buf = sqlite
    buf.put(values(0, 10))
    await buf.persist()
    batch = await buf.begin(3)  # ids 1-3 in flight
    assert batch is not None
    buf.put(values(10, 15))
    await buf.persist()  # over the limit: ids 4 and 5 go, 1-3 are spared
    await buf.ack(batch, 0)  # that write failed
    batch = await buf.begin(5)
    assert batch is not None
    assert [value(ln) for ln in batch.lines] == [0, 1, 2, 5, 6]
    await buf.ack(batch, 4)  # the sink took 4 lines, then failed
    assert buf.stats.sent == 4
    batch = await buf.begin(10)
    assert batch is not None
    assert [value(ln) for ln in batch.lines] == list(range(6, 15))
    assert buf.stats.dropped["full"] == 2


class GapSink:
    """Batch 1 fails after the buffer overflowed while it was in flight; batch 2 is too large
    (413), its first half is taken and the second half fails."""

    name = "db"

    def __init__(self, buf: SqliteBuffer) -> None:
        self.buf, self.calls, self.stored = buf, 0, list[str]()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(self, lines: list[str]) -> None:
        self.calls += 1
        if self.calls == 1:
            self.buf.put(values(10, 15))
            await self.buf.persist()
            raise RetryableSinkError("timeout")
        if self.calls == 2:
            raise PayloadTooLargeError("413")
        if self.calls == 4:
            raise RetryableSinkError("timeout")
        self.stored.extend(lines)


async def test_a_413_split_across_a_gap_in_the_ids_sends_each_line_once(sqlite: SqliteBuffer):
    buf = sqlite
    buf.put(values(0, 10))
    await buf.persist()
    sink = GapSink(buf)
    fwd = Forwarder(buf, sink, batch_size=3, clock=FakeClock())  # type: ignore[arg-type]
    assert await fwd._attempt() == 0.0  # ids 1-3 in flight, ids 4-5 dropped meanwhile
    fwd.writer.max_batch = 8
    assert await fwd._attempt() == 0.0  # 413; first half written, second half failed
    while await fwd._attempt() != EMPTY:
        pass
    got = [value(ln) for ln in sink.stored]
    assert got == [0, 1, 2, *range(5, 15)]
    assert buf.stats.sent == len(got)
    assert buf.stats.dropped["full"] == 2


class ChaosSink:
    """Fails, answers 413 or takes the lines, at random; sometimes the buffer is fed (and
    overflows) while a write is in flight."""

    name = "chaos"

    def __init__(self, rnd: random.Random, feed: object) -> None:
        self.rnd, self.feed = rnd, feed
        self.feeding, self.failing, self.too_large = 0.5, 0.25, 0.55
        self.delivered: list[str] = []

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def write(self, lines: list[str]) -> None:
        if self.rnd.random() < self.feeding:
            await self.feed()  # type: ignore[operator]
        r = self.rnd.random()
        if r < self.failing:
            raise RetryableSinkError("timeout")
        if r < self.too_large and len(lines) > 1:
            raise PayloadTooLargeError("413")
        self.delivered.extend(lines)


def set_full(buf: SqliteBuffer, full: bool) -> None:
    """SQLite's max_page_count makes the database full on demand (no root, no real disk);
    deleting still works then (the WAL is not limited), so a failing delete is injected."""
    conn = buf._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0] if full else 1_000_000
    conn.execute(f"PRAGMA max_page_count = {pages}")
    store = buf._store
    if full:
        store.delete = failing_delete  # type: ignore[method-assign]
    else:
        vars(store).pop("delete", None)


def failing_delete(*args: object) -> None:
    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
    raise exc


async def run_chaos(seed: int, buf: SqliteBuffer | MemoryBuffer, steps: int = 60) -> None:
    rnd = random.Random(seed)
    await buf.open()
    try:
        await chaos(rnd, seed, buf, steps)
    finally:
        await buf.close()


async def chaos(
    rnd: random.Random, seed: int, buf: SqliteBuffer | MemoryBuffer, steps: int
) -> None:
    put = 0

    async def feed() -> None:
        nonlocal put
        k = rnd.randint(1, 8)
        buf.put(values(put, put + k))
        put += k
        if rnd.random() < 0.7:
            await buf.persist()

    sink = ChaosSink(rnd, feed)
    fwd = Forwarder(buf, sink, batch_size=8, clock=FakeClock())  # type: ignore[arg-type]
    for _ in range(steps):
        op = rnd.random()
        if op < 0.35:
            await feed()
        elif op < 0.45 and isinstance(buf, SqliteBuffer):
            set_full(buf, rnd.random() < 0.5)
        elif op < 0.55:
            await buf.persist()
        else:
            fwd.writer.max_batch = rnd.randint(1, 12)  # forget earlier 413s
            await fwd._attempt()
        s = buf.stats
        if fwd._unacked is None:
            assert len(sink.delivered) + sum(s.dropped.values()) + s.depth == put, seed
            assert s.sent == len(sink.delivered), seed
    if isinstance(buf, SqliteBuffer):
        set_full(buf, False)
    sink.rnd = random.Random(0)  # now always writing: drain everything
    sink.rnd.random = lambda: 0.99  # type: ignore[method-assign]
    await buf.persist()
    while await fwd._attempt() != EMPTY:
        pass
    got = [value(ln) for ln in sink.delivered]
    assert len(got) == len(set(got)), f"seed {seed}: a line delivered twice"
    assert got == sorted(got), f"seed {seed}: out of order"
    s = buf.stats
    assert s.depth == 0
    assert s.sent == len(got), seed
    assert len(got) + s.dropped["full"] + s.dropped["age"] == put, seed


@pytest.mark.parametrize(("policy", "seeds"), [("drop_oldest", 25), ("drop_newest", 8)])
async def test_sqlite_buffer_delivers_once_in_order_and_counts_exactly(
    tmp_path: Path, policy: str, seeds: int
):
    for seed in range(seeds):
        buf = SqliteBuffer(tmp_path / f"{seed}.db", max_lines=10, when_full=policy)  # type: ignore[arg-type]
        await run_chaos(seed, buf, steps=120)


async def test_memory_buffer_delivers_once_in_order_and_counts_exactly():
    for seed in range(40):
        await run_chaos(seed, MemoryBuffer(max_lines=10), steps=120)
