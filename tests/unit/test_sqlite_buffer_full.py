"""SQLite buffer on a full store (SQLite's max_page_count makes it full on demand): lines that
cannot be persisted are still forwarded from memory, in order and once; lines in flight are
never counted as dropped."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from gateway.buffer.sqlite import SqliteBuffer
from gateway.testing import FakeClock

LOGGER = "gateway.buffer.sqlite"

Open = Callable[..., Coroutine[Any, Any, SqliteBuffer]]


def lines(n: int, prefix: str = "m") -> list[str]:
    """Long enough that a few of them need a new page of the database."""
    pad = "x" * 500
    return [f'{prefix},site=a v={i}i,pad="{pad}" {1_700_000_000_000 + i}' for i in range(n)]


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[Open]:
    buffers: list[SqliteBuffer] = []

    async def make(path: Path | None = None, **kwargs: Any) -> SqliteBuffer:
        buf = SqliteBuffer(path or tmp_path / "buffer.db", **kwargs)
        await buf.open()
        buffers.append(buf)
        return buf

    yield make
    for buf in buffers:
        await buf.close()


def fill(buf: SqliteBuffer) -> None:
    """The database may not grow any more: every persist that needs a page fails."""
    conn = buf._conn
    assert conn is not None
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")


def free(buf: SqliteBuffer) -> None:
    assert buf._conn is not None
    buf._conn.execute("PRAGMA max_page_count = 1000000")


async def drain(buf: SqliteBuffer, n: int = 7) -> list[str]:
    out: list[str] = []
    while (batch := await buf.begin(n)) is not None:
        out.extend(batch.lines)
        await buf.ack(batch)
    return out


async def test_while_persisting_fails_disk_rows_go_first_then_pending_lines_from_memory(
    opened: Open, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger=LOGGER)
    buf = await opened(name="b1")
    buf.put(lines(5))
    await buf.persist()
    fill(buf)
    buf.put(lines(300, "n"))
    await buf.persist()
    assert buf.problem == "disk full"
    assert buf.unpersisted == 300
    first = await buf.begin(100)
    assert first is not None
    assert first.lines == tuple(lines(5))  # what is on disk first
    await buf.ack(first)
    second = await buf.begin(100)
    assert second is not None
    assert second.lines == tuple(lines(300, "n")[:100])  # then from memory, in order
    await buf.ack(second)
    assert (buf.stats.sent, buf.stats.unpersisted_sent, buf.unpersisted) == (105, 100, 200)
    assert buf.stats.depth == 200
    free(buf)
    await buf.persist()  # the rest is persisted; nothing sent from memory comes again
    assert buf.problem is None
    assert buf.unpersisted == 0
    assert await drain(buf) == lines(300, "n")[100:]
    assert [r.levelname for r in caplog.records] == ["ERROR", "INFO"]
    assert "not durable" in caplog.records[0].getMessage()


async def test_lines_in_memory_are_not_sent_while_persisting_works(opened: Open):
    buf = await opened()
    buf.put(lines(3))
    assert await buf.begin(10) is None  # the normal path: durable before sent
    assert buf.problem is None


async def test_a_memory_batch_persisted_while_in_flight_is_not_sent_again(
    opened: Open, tmp_path: Path
):
    buf = await opened()
    fill(buf)
    buf.put(lines(50))
    await buf.persist()
    batch = await buf.begin(20)
    assert batch is not None
    assert batch.lines == tuple(lines(50)[:20])
    free(buf)
    buf.put(lines(2, "n"))
    await buf.persist()  # space is back while the batch is being sent: all of it persisted
    assert buf.unpersisted == 0
    await buf.ack(batch)  # the sink accepted it: its rows go, it is never sent again
    assert buf.stats.sent == 20
    await buf.close()
    again = await opened(tmp_path / "buffer.db")
    assert await drain(again) == lines(50)[20:] + lines(2, "n")


async def test_a_memory_batch_that_failed_is_offered_again_first(opened: Open):
    buf = await opened()
    fill(buf)
    buf.put(lines(10))
    await buf.persist()
    batch = await buf.begin(4)
    assert batch is not None
    await buf.ack(batch, 0)  # the write failed: nothing acknowledged
    again = await buf.begin(4)
    assert again is not None
    assert again.lines == batch.lines
    await buf.ack(again, 3)
    assert await drain(buf) == lines(10)[3:]
    assert buf.stats.unpersisted_sent == 10


async def test_memory_for_unpersisted_lines_is_bounded_by_the_limits(opened: Open):
    buf = await opened(max_lines=50)
    fill(buf)
    for i in range(4):
        buf.put(lines(30, f"p{i}"))
        await buf.persist()
    assert buf.unpersisted == 50
    assert buf.stats.dropped["full"] == 70
    assert await drain(buf, 100) == lines(30, "p2")[10:] + lines(30, "p3")


async def test_while_persisting_fails_the_limits_count_disk_and_memory(opened: Open):
    buf = await opened(max_lines=10)
    buf.put(lines(8))
    await buf.persist()
    fill(buf)
    buf.put(lines(10, "n"))
    await buf.persist()  # fails: 8 on disk + 10 in memory, 2 of them may stay
    assert buf.problem == "disk full"
    assert buf.stats.depth == 10
    assert buf.stats.dropped["full"] == 8
    assert buf.unpersisted == 2
    assert await drain(buf, 100) == lines(8) + lines(10, "n")[8:]
    assert buf.stats.sent == 10


async def test_while_persisting_fails_a_batch_in_flight_is_not_counted(opened: Open):
    buf = await opened(max_lines=10)
    buf.put(lines(8))
    await buf.persist()
    batch = await buf.begin(5)  # 5 rows in flight: 3 rows count
    assert batch is not None
    fill(buf)
    buf.put(lines(10, "n"))
    await buf.persist()
    assert buf.stats.dropped["full"] == 3  # 3 + 7 lines count: within the limit
    assert buf.stats.depth == 15  # the batch in flight on top of the limit, as documented
    await buf.ack(batch)
    assert await drain(buf, 100) == lines(8)[5:] + lines(10, "n")[3:]
    assert buf.stats.sent == 15


async def test_drop_oldest_spares_rows_in_flight_and_counts_them_sent(
    opened: Open, caplog: pytest.LogCaptureFixture
):
    """Rows being sent count against the limits again only if their write fails."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    buf = await opened(max_lines=6)
    buf.put(lines(6))
    await buf.persist()
    batch = await buf.begin(4)  # lines 0-3 in flight
    assert batch is not None
    buf.put(lines(5, "n"))
    await buf.persist()  # 7 rows not in flight: the oldest of them (line 4) goes
    assert buf.stats.dropped["full"] == 1
    await buf.ack(batch)
    assert (buf.stats.sent, buf.stats.depth) == (4, 6)
    assert await drain(buf) == lines(6)[5:] + lines(5, "n")
    assert buf.stats.sent == 10


async def test_rows_in_flight_only_over_the_limit_are_not_dropped(
    opened: Open, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger=LOGGER)
    buf = await opened(max_lines=4)
    buf.put(lines(4))
    await buf.persist()
    batch = await buf.begin(4)
    assert batch is not None
    buf.put(lines(1, "n"))
    await buf.persist()  # only rows in flight are older than the new line
    assert buf.stats.dropped["full"] == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    await buf.ack(batch)
    assert buf.stats.sent == 4
    assert await drain(buf) == lines(1, "n")


async def test_max_age_spares_rows_in_flight(opened: Open):
    clock = FakeClock()
    buf = await opened(max_age_s=60, clock=clock)
    buf.put(lines(3))
    await buf.persist()
    batch = await buf.begin(2)
    assert batch is not None
    clock.advance(61)
    await buf.persist()  # line 2 expires, lines 0-1 are being sent
    assert buf.stats.dropped["age"] == 1
    await buf.ack(batch)
    assert buf.stats.sent == 2
    assert await buf.begin(10) is None


async def test_unpersisted_lines_in_flight_are_not_trimmed(opened: Open):
    buf = await opened(max_lines=10)
    fill(buf)
    buf.put(lines(10))
    await buf.persist()
    batch = await buf.begin(6)
    assert batch is not None
    buf.put(lines(8, "n"))
    await buf.persist()  # fails; 12 lines not in flight: lines 6 and 7 go
    assert buf.stats.dropped["full"] == 2
    await buf.ack(batch)
    assert buf.stats.sent == 6
    assert await drain(buf) == lines(10)[8:] + lines(8, "n")


async def test_only_lines_a_persist_failed_on_are_sent_from_memory(opened: Open):
    """Every line is tried on disk first, so a commit notices when space is back."""
    buf = await opened()
    fill(buf)
    buf.put(lines(10))
    await buf.persist()
    buf.put(lines(5, "n"))  # not tried yet
    batch = await buf.begin(100)
    assert batch is not None
    assert batch.lines == tuple(lines(10))
    await buf.ack(batch)
    assert await buf.begin(100) is None
    await buf.persist()  # fails for them too: now they may go
    rest = await buf.begin(100)
    assert rest is not None
    assert rest.lines == tuple(lines(5, "n"))
