"""The hand-over: lines just committed go to the forwarder from memory, not read back from
SQLite, and their rows are deleted by id when the sink acknowledged them. Statements are
counted with sqlite3's trace callback; the guarantees (order with a backlog on disk, resent
after a crash, limits) are checked on the lines themselves."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from gateway.buffer.base import Batch
from gateway.buffer.sqlite import SqliteBuffer
from gateway.testing import FakeClock

Open = Callable[..., Coroutine[Any, Any, SqliteBuffer]]


def lines(n: int, prefix: str = "m") -> list[str]:
    return [f"{prefix} v={i}i {i}" for i in range(n)]


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[Open]:
    buffers: list[SqliteBuffer] = []

    async def make(**kwargs: Any) -> SqliteBuffer:
        buf = SqliteBuffer(tmp_path / "buffer.db", **kwargs)
        await buf.open()
        buffers.append(buf)
        return buf

    yield make
    for buf in buffers:
        await buf.close()


class Statements:
    """The SQL a buffer's connection runs (one entry per execution)."""

    def __init__(self, buf: SqliteBuffer) -> None:
        self.sql: list[str] = []
        assert buf._conn is not None
        buf._conn.set_trace_callback(self.sql.append)

    def take(self) -> list[str]:
        taken, self.sql[:] = self.sql[:], []
        return taken

    def reads(self) -> list[str]:
        return [s for s in self.take() if s.lstrip().upper().startswith("SELECT")]


async def begin(buf: SqliteBuffer, n: int) -> Batch:
    batch = await buf.begin(n)
    assert batch is not None
    return batch


async def drain(buf: SqliteBuffer, n: int = 4) -> list[str]:
    out: list[str] = []
    while (batch := await buf.begin(n)) is not None:
        out.extend(batch.lines)
        await buf.ack(batch)
    return out


async def test_lines_just_committed_are_handed_over_without_reading_them_back(opened: Open):
    buf = await opened()
    sql = Statements(buf)
    for commit in range(3):  # commit after commit: each one handed over, then deleted by id
        buf.put(lines(3, f"a{commit}"))
        buf.put(lines(2, f"b{commit}"))  # a second scan: the batch spans two chunks
        await buf.persist()
        sql.take()
        batch = await begin(buf, 100)
        assert sql.reads() == []
        assert batch.lines == (*lines(3, f"a{commit}"), *lines(2, f"b{commit}"))
        assert batch.ids == tuple(range(batch.first, batch.first + 5))
        await buf.ack(batch)
        assert sql.take() == []  # the levels are known: no statement until the next commit
        assert buf.stats.depth == 0
        assert buf.stats.bytes == 0
        assert buf.stats.sent == 5 * (commit + 1)
    await buf.persist()  # nothing new: the commit still deletes what was acknowledged
    assert [s for s in sql.take() if s.startswith("DELETE")] == [
        f"DELETE FROM lines WHERE id <= {batch.last}"
    ]
    assert buf._conn is not None
    assert buf._conn.execute("SELECT count(*) FROM lines").fetchone() == (0,)


async def test_an_acknowledged_hand_over_is_deleted_in_the_next_commits_transaction(
    opened: Open,
):
    buf = await opened()
    buf.put(lines(3, "a"))
    await buf.persist()
    batch = await begin(buf, 10)
    sql = Statements(buf)
    await buf.ack(batch)
    assert sql.take() == []  # no transaction of its own
    buf.put(lines(2, "b"))
    await buf.persist()
    assert [s.split()[0] for s in sql.take() if not s.startswith("SELECT")] == [
        "BEGIN",
        "DELETE",
        "INSERT",
        "INSERT",
        "COMMIT",
    ]
    assert buf._conn is not None
    assert buf._conn.execute("SELECT line FROM lines").fetchall() == [(x,) for x in lines(2, "b")]
    assert await drain(buf) == lines(2, "b")


async def test_lines_acknowledged_since_the_last_commit_are_resent_after_a_crash(opened: Open):
    buf = await opened()
    buf.put(lines(3))
    await buf.persist()
    await buf.ack(await begin(buf, 10))
    assert await buf.begin(10) is None  # acknowledged: never handed out again by this buffer
    # a crash before the next commit: the file still holds the rows, so they are sent again
    # (InfluxDB overwrites identical points); nothing acknowledged is lost or reordered
    assert buf._conn is not None
    on_disk = buf._conn.execute("SELECT line FROM lines ORDER BY id").fetchall()
    assert on_disk == [(x,) for x in lines(3)]
    await buf.close()  # a clean stop commits the delete
    again = await opened()
    assert await again.begin(10) is None


async def test_a_partial_ack_of_a_hand_over_deletes_only_the_lines_written(opened: Open):
    clock = FakeClock()
    buf = await opened(clock=clock)
    buf.put(lines(4))
    clock.advance(1)
    buf.put(lines(3, "n"))
    await buf.persist()
    sql = Statements(buf)
    batch = await begin(buf, 6)
    await buf.ack(batch, 5)
    assert buf.stats.depth == 2
    assert buf.stats.bytes == sum(map(len, lines(3, "n")[1:]))
    assert buf.stats.oldest_ns == clock.now_ns()
    sql.take()
    rest = await begin(buf, 6)  # the rest of the second chunk, still from memory
    assert sql.reads() == []
    assert rest.lines == tuple(lines(3, "n")[1:])
    assert rest.first == batch.last
    await buf.ack(rest)
    assert buf.stats.depth == 0
    assert buf.stats.oldest_ns is None


async def test_a_backlog_on_disk_goes_first_then_the_lines_just_committed(opened: Open):
    first = await opened()
    first.put(lines(6, "old"))
    await first.persist()
    await first.close()  # a restart: the rows on disk are not in memory
    buf = await opened()
    buf.put(lines(3, "new"))
    await buf.persist()
    sql = Statements(buf)
    assert await drain(buf) == [*lines(6, "old"), *lines(3, "new")]
    assert sql.reads()  # the backlog was read back
    buf.put(lines(2, "live"))
    await buf.persist()
    sql.take()
    assert await drain(buf) == lines(2, "live")
    assert sql.reads() == []  # once it is drained, commits are handed over again


async def test_a_hand_over_not_acknowledged_is_sent_again_after_a_restart(opened: Open):
    buf = await opened()
    buf.put(lines(5))
    await buf.persist()
    batch = await begin(buf, 5)
    assert batch.lines == tuple(lines(5))
    # the write never finished: a crash (the rows are committed, the ack never came)
    await buf.close()
    again = await opened()
    assert await drain(again) == lines(5)


async def test_the_same_batch_is_handed_over_again_until_acknowledged(opened: Open):
    buf = await opened()
    buf.put(lines(5))
    await buf.persist()
    batch = await begin(buf, 3)
    assert await begin(buf, 3) == batch
    await buf.ack(batch)
    await buf.ack(batch)  # an ack twice removes nothing more
    assert buf.stats.sent == 3
    assert await drain(buf) == lines(5)[3:]


async def test_rows_dropped_by_the_limits_are_never_handed_over(opened: Open):
    first = await opened()
    first.put(lines(2, "old"))
    await first.persist()
    await first.close()
    buf = await opened(max_lines=3, when_full="drop_oldest")
    in_flight = await begin(buf, 2)  # the backlog, read back; spared by the limits
    buf.put(lines(3, "a"))
    await buf.persist()
    buf.put(lines(2, "b"))
    await buf.persist()  # over the limits: a0 and a1 go, the rows in flight stay
    assert buf.stats.dropped["full"] == 2
    again = await begin(buf, 10)
    assert again.lines == (*lines(2, "old"), "a v=2i 2", *lines(2, "b"))
    await buf.ack(in_flight)
    assert await drain(buf) == ["a v=2i 2", *lines(2, "b")]


async def test_rows_dropped_by_age_are_never_handed_over(opened: Open):
    clock = FakeClock()
    first = await opened(clock=clock)
    first.put(lines(1, "old"))
    await first.persist()
    await first.close()
    buf = await opened(clock=clock, max_age_s=10)
    in_flight = await begin(buf, 1)  # read back, spared by age while in flight
    clock.advance(1)
    buf.put(lines(1, "a"))
    await buf.persist()
    clock.advance(5)
    buf.put(lines(1, "b"))
    await buf.persist()
    clock.advance(5.5)  # "a" is now too old, "b" is not
    await buf.persist()
    assert buf.stats.dropped["age"] == 1
    assert (await begin(buf, 10)).lines == (*lines(1, "old"), *lines(1, "b"))
    await buf.ack(in_flight)
    assert await drain(buf) == lines(1, "b")


async def test_the_hand_over_is_bounded_and_the_rest_is_read_back(
    opened: Open, monkeypatch: pytest.MonkeyPatch
):
    buf = await opened()
    monkeypatch.setattr(buf._handover, "max_bytes", 3 * len(lines(1)[0]))
    for i in range(4):
        buf.put([f"m v={i}i {i}"])
        await buf.persist()
    assert buf._handover.lines == 3
    assert await drain(buf, 2) == [f"m v={i}i {i}" for i in range(4)]


async def test_every_character_of_a_line_survives_the_file(opened: Open):
    tricky = [
        'm,tag=a\\ b s="say \\"hi\\" \\\\ done",t=1i 1',
        'm,site=Zürich,unit=°C v=1.5,note="€ 😀 \t tab" 2',
        "m v=1i 3",
    ]
    first = await opened()
    first.put(tricky[:2])
    first.put(tricky[2:])
    await first.persist()
    await first.close()
    again = await opened()
    assert await drain(again) == tricky
    assert again.stats.sent == 3


async def test_deleted_rows_are_not_overwritten_at_the_cost_of_more_writes(opened: Open):
    buf = await opened()
    assert buf._conn is not None
    assert buf._conn.execute("PRAGMA secure_delete").fetchone() == (2,)  # FAST
