"""SQLite buffer on real files: order, durability across reopen and SIGKILL, limits, age,
corruption, persist failures."""

from __future__ import annotations

import asyncio
import logging
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from gateway.buffer.base import Batch
from gateway.buffer.sqlite import SqliteBuffer
from gateway.testing import FakeClock

REPO = Path(__file__).resolve().parents[2]
LOGGER = "gateway.buffer.sqlite"

Open = Callable[..., Coroutine[Any, Any, SqliteBuffer]]


def lines(n: int, prefix: str = "m") -> list[str]:
    return [f"{prefix},site=a v={i}i {1_700_000_000_000 + i}" for i in range(n)]


def size(ls: list[str]) -> int:
    return sum(len(line.encode()) for line in ls)


@pytest.fixture
async def opened(tmp_path: Path) -> AsyncIterator[Open]:
    """Open SqliteBuffers on tmp_path/buffer.db (by default); all closed at the end."""
    buffers: list[SqliteBuffer] = []

    async def make(path: Path | None = None, **kwargs: Any) -> SqliteBuffer:
        buf = SqliteBuffer(path or tmp_path / "buffer.db", **kwargs)
        await buf.open()
        buffers.append(buf)
        return buf

    yield make
    for buf in buffers:
        await buf.close()


async def head(buf: SqliteBuffer, n: int) -> Batch:
    batch = await buf.begin(n)
    assert batch is not None
    return batch


async def drain(buf: SqliteBuffer) -> list[str]:
    out: list[str] = []
    while (batch := await buf.begin(7)) is not None:
        out.extend(batch.lines)
        await buf.ack(batch)
    return out


async def test_round_trip_keeps_order_and_a_batch_comes_again_until_acked(opened: Open):
    buf = await opened()
    buf.put(lines(10))
    await buf.persist()
    batch = await buf.begin(4)
    assert batch is not None
    assert batch.lines == tuple(lines(10)[:4])
    assert batch.last - batch.first == 3
    assert await buf.begin(4) == batch  # begin does not remove
    assert buf.stats.depth == 10
    await buf.ack(batch)
    assert buf.stats.sent == 4
    assert await drain(buf) == lines(10)[4:]
    assert await buf.begin(4) is None
    assert (buf.stats.depth, buf.stats.bytes, buf.stats.oldest_ns) == (0, 0, None)


async def test_lines_put_but_not_persisted_are_not_visible(opened: Open):
    buf = await opened()
    buf.put(lines(3))
    assert await buf.begin(10) is None
    assert buf.stats.depth == 3  # but they are held
    await buf.persist()
    batch = await buf.begin(10)
    assert batch is not None
    assert batch.lines == tuple(lines(3))


async def test_reopen_recovers_lines_in_order_and_new_lines_queue_behind(
    opened: Open, tmp_path: Path
):
    clock = FakeClock()
    first = await opened(clock=clock)
    first.put(lines(5))
    clock.advance(1)
    first.put(lines(5, "n"))
    await first.persist()
    await first.ack(await head(first, 2))
    await first.close()

    again = await opened(clock=clock)
    expected = lines(5)[2:] + lines(5, "n")
    assert again.stats.depth == 8
    assert again.stats.bytes == size(expected)
    assert again.stats.oldest_ns == FakeClock().now_ns()
    again.put(lines(2, "new"))
    await again.persist()
    assert await drain(again) == [*expected, *lines(2, "new")]


async def test_ids_never_go_back_even_after_everything_was_acked(opened: Open):
    buf = await opened()
    buf.put(lines(5))
    await buf.persist()
    before = await buf.begin(10)
    assert before is not None
    await buf.ack(before)
    await buf.close()
    again = await opened()
    again.put(lines(1))
    await again.persist()
    after = await again.begin(10)
    assert after is not None
    assert after.first > before.last


CRASH = """
import asyncio, os, signal, sys
from gateway.buffer.sqlite import SqliteBuffer

async def main():
    buf = SqliteBuffer(sys.argv[1])
    await buf.open()
    for i in range(3):
        buf.put([f"persisted,batch={i} v={j}i" for j in range(500)])
        await buf.persist()
    buf.put([f"pending v={j}i" for j in range(50)])
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_sigkill_keeps_every_persisted_line_and_none_of_the_pending(
    opened: Open, tmp_path: Path
):
    path = tmp_path / "buffer.db"
    proc = subprocess.run(
        [sys.executable, "-c", CRASH, str(path)], cwd=REPO, capture_output=True, timeout=60
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert Path(f"{path}-wal").stat().st_size > 0  # killed, not closed: the data is in the WAL
    buf = await opened(path)
    expected = [f"persisted,batch={i} v={j}i" for i in range(3) for j in range(500)]
    assert buf.stats.depth == 1500
    assert await drain(buf) == expected


async def test_drop_oldest_at_max_lines(opened: Open, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger=LOGGER)
    buf = await opened(max_lines=10)
    buf.put(lines(8))
    await buf.persist()
    buf.put(lines(5, "n"))
    assert buf.stats.depth == 13  # over the limit until persisted
    await buf.persist()
    assert buf.stats.dropped == {"full": 3, "age": 0}
    assert buf.stats.depth == 10
    assert await drain(buf) == lines(8)[3:] + lines(5, "n")
    assert [r.levelname for r in caplog.records if r.name == LOGGER] == ["ERROR", "INFO"]


async def test_drop_oldest_at_max_bytes_keeps_the_newest_lines_that_fit(opened: Open):
    old, new = lines(10), lines(4, "n")
    limit = size(new) + size(old[-2:]) + 1  # room for the newest 6 lines, not 7
    buf = await opened(max_bytes=limit)
    buf.put(old)
    buf.put(new)
    await buf.persist()
    assert buf.stats.dropped["full"] == 8
    assert buf.stats.bytes == size(old[-2:] + new) <= limit
    assert await drain(buf) == old[-2:] + new


async def test_a_single_persist_larger_than_the_limit_keeps_its_newest_lines(opened: Open):
    buf = await opened(max_lines=4)
    buf.put(lines(10))
    await buf.persist()
    assert buf.stats.dropped["full"] == 6
    assert await drain(buf) == lines(10)[6:]


async def test_drop_newest_refuses_new_lines_counted_exactly(opened: Open):
    buf = await opened(max_lines=10, when_full="drop_newest")
    buf.put(lines(6))
    await buf.persist()
    buf.put(lines(3, "n"))  # pending counts too
    buf.put(lines(4, "x"))  # 1 fits
    buf.put(lines(2, "y"))  # none fits
    assert buf.stats.dropped["full"] == 5
    assert buf.stats.received == 15
    await buf.persist()
    assert await drain(buf) == lines(6) + lines(3, "n") + lines(1, "x")


async def test_drop_newest_by_bytes(opened: Open):
    buf = await opened(max_bytes=size(lines(3)), when_full="drop_newest")
    buf.put(lines(5))
    assert buf.stats.dropped["full"] == 2
    assert buf.stats.bytes == size(lines(3))
    await buf.persist()
    assert await drain(buf) == lines(3)


async def test_overflow_logged_once_per_episode_and_info_below_90_percent(
    opened: Open, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger=LOGGER)
    buf = await opened(max_lines=20, when_full="drop_newest", name="b1")
    for _ in range(5):  # one episode, many drops
        buf.put(lines(8))
        await buf.persist()
    assert buf.stats.dropped["full"] == 20
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == LOGGER]
    assert logged == [
        ("ERROR", f"Buffer b1 full (20 lines, {2 * 1024**3} bytes max): dropping the newest lines.")
    ]
    batch = await buf.begin(2)
    assert batch is not None
    await buf.ack(batch)  # 18 lines = 90 %: not below yet
    assert len(caplog.records) == 1
    await buf.ack(await head(buf, 1))
    assert caplog.records[-1].levelname == "INFO"
    assert "below 90 %" in caplog.records[-1].getMessage()
    buf.put(lines(3))  # 20 lines: full, nothing dropped
    assert len(caplog.records) == 2
    buf.put(lines(1))  # a new episode: logged again
    assert buf.stats.dropped["full"] == 21
    assert [r.levelname for r in caplog.records] == ["ERROR", "INFO", "ERROR"]


async def test_max_age_removes_old_rows_at_persist(opened: Open):
    clock = FakeClock()
    buf = await opened(max_age_s=60, clock=clock)
    buf.put(lines(3))
    clock.advance(30)
    buf.put(lines(2, "n"))
    await buf.persist()
    clock.advance(31)  # the first 3 are 61 s old, the next 2 are 31 s old
    await buf.persist()  # nothing pending: still expires
    assert buf.stats.dropped == {"full": 0, "age": 3}
    assert buf.stats.oldest_ns == FakeClock().now_ns() + 30 * 10**9
    buf.put(lines(1, "x"))
    clock.advance(30)
    await buf.persist()
    assert buf.stats.dropped["age"] == 5
    assert await drain(buf) == lines(1, "x")


async def test_rows_in_flight_are_not_dropped_and_an_ack_twice_removes_nothing_more(
    opened: Open,
):
    buf = await opened(max_lines=6)
    buf.put(lines(6))
    await buf.persist()
    batch = await buf.begin(4)  # lines 0-3 in flight: not counted against the limit
    assert batch is not None
    buf.put(lines(2, "n"))
    await buf.persist()
    assert buf.stats.dropped["full"] == 0
    await buf.ack(batch)
    assert buf.stats.sent == 4
    await buf.ack(batch)
    assert buf.stats.sent == 4
    assert buf.stats.depth == 4
    assert await drain(buf) == lines(6)[4:] + lines(2, "n")


async def test_ack_of_the_first_lines_of_a_batch_only(opened: Open):
    buf = await opened()
    buf.put(lines(6))
    await buf.persist()
    batch = await buf.begin(5)
    assert batch is not None
    await buf.ack(batch, 2)
    assert (buf.stats.sent, buf.stats.depth) == (2, 4)
    rest = await buf.begin(5)
    assert rest is not None
    assert (rest.first, rest.lines) == (batch.first + 2, tuple(lines(6)[2:]))
    await buf.ack(batch, 0)
    assert buf.stats.depth == 4


async def test_ack_of_an_unknown_range_removes_nothing(opened: Open):
    buf = await opened()
    buf.put(lines(3))
    await buf.persist()
    await buf.ack(Batch(10_000, 10_005, ()))
    assert buf.stats.depth == 3
    assert buf.stats.sent == 0


async def test_levels_follow_put_persist_ack(opened: Open):
    clock = FakeClock()
    t0 = clock.now_ns()
    buf = await opened(clock=clock)
    assert (buf.stats.depth, buf.stats.bytes, buf.stats.oldest_ns) == (0, 0, None)
    buf.put(['m v="é" 1', "m v=2 2"])  # é is 2 bytes in UTF-8
    assert (buf.stats.depth, buf.stats.bytes, buf.stats.oldest_ns) == (2, 10 + 7, t0)
    clock.advance(5)
    buf.put(["m v=3 3"])
    await buf.persist()
    assert (buf.stats.depth, buf.stats.bytes, buf.stats.oldest_ns) == (3, 24, t0)
    await buf.ack(await head(buf, 2))
    assert (buf.stats.depth, buf.stats.bytes, buf.stats.oldest_ns) == (1, 7, t0 + 5 * 10**9)
    assert (buf.stats.received, buf.stats.sent) == (3, 2)
    await buf.close()
    again = await opened(clock=clock)
    assert (again.stats.depth, again.stats.bytes, again.stats.oldest_ns) == (1, 7, t0 + 5 * 10**9)


def corrupt_pages(path: Path) -> None:
    """A valid header, garbage in the table's pages."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE lines (id INTEGER PRIMARY KEY, put_ns INTEGER, line TEXT)")
        conn.executemany("INSERT INTO lines VALUES (NULL, 1, ?)", [("x" * 200,)] * 200)
    conn.close()
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xa5" * (len(data) - 4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "spoil",
    [lambda p: p.write_bytes(b"not a database, garbage " * 100), corrupt_pages],
    ids=["garbage", "corrupt-pages"],
)
async def test_a_corrupt_file_is_moved_aside_and_a_fresh_buffer_works(
    opened: Open, tmp_path: Path, caplog: pytest.LogCaptureFixture, spoil: Callable[[Path], None]
):
    path = tmp_path / "buffer.db"
    spoil(path)
    spoiled = path.read_bytes()
    buf = await opened(clock=FakeClock())  # 2023-11-14 22:13:20 UTC
    moved = tmp_path / "buffer.db.corrupt-20231114T221320Z"
    assert moved.read_bytes() == spoiled  # kept, not deleted
    assert any(r.levelname == "ERROR" and str(moved) in r.getMessage() for r in caplog.records)
    buf.put(lines(3))
    await buf.persist()
    assert await drain(buf) == lines(3)


async def test_an_unopenable_path_raises_and_touches_nothing(opened: Open, tmp_path: Path):
    path = tmp_path / "buffer.db"
    path.mkdir()
    (path / "keep").write_text("data")
    with pytest.raises(sqlite3.OperationalError):
        await opened(path)
    assert (path / "keep").read_text() == "data"
    # nothing but the buffer's lock file next to it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["buffer.db", "buffer.db.lock"]


async def test_a_failing_persist_keeps_the_pending_lines_and_logs_once(
    opened: Open, caplog: pytest.LogCaptureFixture
):
    """A real SQLITE_FULL ("database or disk is full"): the file may not grow beyond its size."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    buf = await opened()
    buf.put(lines(5))
    await buf.persist()
    conn = buf._conn
    assert conn is not None
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    buf.put(lines(500, "n"))  # needs more pages
    await buf.persist()
    await buf.persist()
    assert buf.stats.depth == 505
    assert [r.levelname for r in caplog.records] == ["ERROR"]
    assert "full" in caplog.records[0].getMessage()
    batch = await buf.begin(100)
    assert batch is not None
    assert batch.lines == tuple(lines(5))  # the failed transactions left nothing behind
    conn.execute("PRAGMA max_page_count = 1000000")
    buf.put(lines(1, "x"))
    await buf.persist()
    assert [r.levelname for r in caplog.records] == ["ERROR", "INFO"]
    assert await drain(buf) == lines(5) + lines(500, "n") + lines(1, "x")


async def test_while_persist_fails_drop_oldest_bounds_the_pending_lines(opened: Open):
    buf = await opened(max_lines=100)
    buf.put(lines(5))
    await buf.persist()
    conn = buf._conn
    assert conn is not None
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    long = [lines(60, f"p{i}" + "x" * 100) for i in range(3)]
    for chunk in long:
        buf.put(chunk)
        await buf.persist()  # fails: disk and memory together are kept within the limits
    assert buf.stats.dropped["full"] == 85
    assert buf.stats.depth == 100
    conn.execute("PRAGMA max_page_count = 1000000")
    await buf.persist()
    assert buf.stats.dropped["full"] == 85
    assert await drain(buf) == lines(5) + long[1][25:] + long[2]


class Hold:
    """Stops the buffer's worker thread at its next BEGIN until released (a trace callback)."""

    def __init__(self, buf: SqliteBuffer) -> None:
        self.started, self.released = threading.Event(), threading.Event()
        assert buf._conn is not None
        buf._conn.set_trace_callback(self.trace)

    def trace(self, sql: str) -> None:
        if sql.startswith("BEGIN") and not self.released.is_set():
            self.started.set()
            self.released.wait(10)

    async def in_transaction(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 10)


async def test_lines_put_while_a_persist_is_in_flight_stay_pending(opened: Open):
    buf = await opened()
    hold = Hold(buf)
    buf.put(lines(10))
    task = asyncio.create_task(buf.persist())
    await hold.in_transaction()
    buf.put(lines(3, "n"))
    hold.released.set()
    await task
    batch = await buf.begin(100)
    assert batch is not None
    assert batch.lines == tuple(lines(10))
    assert buf.stats.depth == 13
    await buf.persist()
    assert await drain(buf) == lines(10) + lines(3, "n")


async def test_a_cancelled_persist_still_completes_and_nothing_is_written_twice(opened: Open):
    buf = await opened()
    hold = Hold(buf)
    buf.put(lines(10))
    task = asyncio.create_task(buf.persist())
    await hold.in_transaction()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    second = asyncio.create_task(buf.persist())  # must wait for the cancelled one
    hold.released.set()
    await second
    assert buf.stats.depth == 10
    assert await drain(buf) == lines(10)


async def test_close_persists_what_is_pending_and_is_idempotent(opened: Open):
    buf = await opened()
    buf.put(lines(4))
    await buf.close()
    await buf.close()
    with pytest.raises(RuntimeError, match="not open"):
        await buf.begin(1)
    again = await opened()
    assert await drain(again) == lines(4)


async def test_two_gateways_cannot_share_one_buffer_file(tmp_path):
    first = SqliteBuffer(tmp_path / "x.sqlite")
    await first.open()
    second = SqliteBuffer(tmp_path / "x.sqlite")
    with pytest.raises(RuntimeError, match="in use by another gateway"):
        await second.open()
    await first.close()
    await second.open()  # free again once the first one closed it
    await second.close()
