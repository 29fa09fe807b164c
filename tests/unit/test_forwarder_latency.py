"""When the forwarder writes: a commit wakes an idle forwarder at once (no wait for the
flush interval), while commits close behind a write are batched into the next one. The flush
interval is an hour here, so its poll never fires within a test: whatever is written was
woken by a commit. Times are the test clock's, never measured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.buffer.base import Buffer
from gateway.buffer.memory import MemoryBuffer
from gateway.buffer.sqlite import SqliteBuffer
from gateway.config.models import BufferConfig, SinksConfig
from gateway.runtime.app import Gateway
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.memory import MemorySink
from gateway.testing import FakeClock

HOUR = 3600.0
SOON = 10.0  # liveness bound of the waits below (seconds): only hit when the test fails


def lines(n: int, prefix: str) -> list[str]:
    return [f"{prefix} v={i}i {i}" for i in range(n)]


class Running:
    """A gateway without collectors whose one forwarder runs in the background."""

    def __init__(self, buffer: Buffer, batch_size: int = 5000) -> None:
        self.clock = FakeClock()
        self.sink = MemorySink()
        self.forwarder = Forwarder(
            buffer, self.sink, batch_size=batch_size, flush_interval=HOUR, clock=self.clock
        )
        self.gateway = Gateway([], [self.forwarder], commit_interval=1.0, clock=self.clock)
        self.stop = asyncio.Event()

    async def commit(self, batch: list[str]) -> None:
        self.gateway.put(batch)
        await self.gateway.commit()

    async def written(self, count: int) -> None:
        await self.sink.wait_for(lambda got: len(got) >= count, SOON)

    async def acknowledged(self, count: int) -> None:
        async with asyncio.timeout(SOON):
            while self.forwarder.buffer.stats.sent < count:
                await asyncio.sleep(0.01)

    async def settle(self) -> None:
        """Let the forwarder run as far as it would without being woken."""
        for _ in range(50):
            await asyncio.sleep(0)


@pytest.fixture(params=["memory", "sqlite"])
async def running(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Running]:
    buffer: Buffer = (
        MemoryBuffer() if request.param == "memory" else SqliteBuffer(tmp_path / "b.db")
    )
    await buffer.open()
    run = Running(buffer)
    task = asyncio.create_task(run.forwarder.run(run.stop))
    await run.settle()
    yield run
    run.stop.set()
    await asyncio.wait_for(task, SOON)
    await buffer.close()


async def test_an_idle_forwarder_writes_a_commit_at_once(running: Running):
    await running.commit(lines(3, "a"))
    await running.written(3)
    assert running.sink.lines == lines(3, "a")
    await running.acknowledged(3)
    assert running.forwarder.buffer.stats.depth == 0
    # the next commit half a flush interval later (with the defaults 0.5 s, less than the
    # commit interval: every commit of an idle forwarder is written at once)
    running.clock.advance(HOUR / 2)
    await running.commit(lines(2, "b"))
    await running.written(5)
    assert running.sink.writes == 2


async def test_commits_close_behind_a_write_go_together_in_the_next_one(running: Running):
    await running.commit(lines(3, "a"))
    await running.written(3)
    running.clock.advance(1.0)  # less than half the flush interval since that write began
    await running.commit(lines(2, "b"))
    await running.settle()
    assert running.sink.writes == 1  # not woken: "b" waits for more
    running.clock.advance(1.0)
    await running.commit(lines(2, "c"))
    await running.settle()
    assert running.sink.writes == 1
    running.clock.advance(HOUR / 2)
    await running.commit(lines(1, "d"))  # half a flush interval since the last write
    await running.written(8)
    assert running.sink.writes == 2  # b, c and d in one write
    assert running.sink.lines == [*lines(3, "a"), *lines(2, "b"), *lines(2, "c"), *lines(1, "d")]


async def test_a_full_batch_is_written_at_once_even_right_after_a_write(tmp_path: Path):
    run = Running(MemoryBuffer(), batch_size=4)
    task = asyncio.create_task(run.forwarder.run(run.stop))
    await run.settle()
    await run.commit(lines(2, "a"))
    await run.written(2)
    await run.commit(lines(4, "b"))  # a full batch: no reason to wait
    await run.written(6)
    assert run.sink.writes == 2
    run.stop.set()
    await asyncio.wait_for(task, SOON)


async def test_with_the_default_settings_every_commit_is_written_within_half_a_second(
    tmp_path: Path,
):
    """The defaults (commit 0.5 s, flush 0.5 s): each commit of an idle forwarder is written at
    once, so a line read right after a commit is written half a second later (test clock),
    not one second as with the former defaults (1 s, 1 s)."""
    commit_interval = BufferConfig().commit_interval
    flush_interval = SinksConfig().flush_interval
    clock = FakeClock()
    sink = MemorySink()
    buffer = SqliteBuffer(tmp_path / "b.db", clock=clock)
    await buffer.open()
    forwarder = Forwarder(buffer, sink, flush_interval=flush_interval, clock=clock)
    gateway = Gateway([], [forwarder], commit_interval=commit_interval, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(forwarder.run(stop))
    waits: list[float] = []
    for n in range(6):
        read_at = clock.monotonic()  # a scan's lines, put right after the previous commit
        gateway.put(lines(2, f"s{n}"))
        clock.advance(commit_interval)
        await gateway.commit()
        await sink.wait_for(lambda got, n=n: len(got) >= 2 * (n + 1), SOON)
        waits.append(clock.monotonic() - read_at)
    assert sink.writes == 6  # one write per commit
    assert max(waits) <= 0.5
    stop.set()
    await asyncio.wait_for(task, SOON)
    await buffer.close()
