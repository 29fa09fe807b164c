"""Durable store-and-forward buffer: one SQLite database in WAL mode.

Commit policy. `put()` only appends to a list in memory; `persist()` writes everything put
so far in one transaction. The runtime calls `persist()` every `commit_interval`, so:

- `kill -9` (SIGKILL, a crash of the process) loses exactly the lines put but not yet
  persisted: at most one `commit_interval` plus the duration of one persist() (lines put
  while a persist() runs wait for the next one). A committed transaction is in the WAL file,
  which the OS keeps when the process dies (`synchronous=NORMAL`, the default).
- Power loss or a kernel crash may also lose the last committed transactions with
  `fsync=False`, but never corrupts the database. With `fsync=True` (`synchronous=FULL`)
  every commit is fsynced and survives power loss, at a lower persist rate.
- Window zero: await persist() after each put(); a line is then durable before the caller
  goes on.
- While persisting fails (disk full, I/O error: logged once) the lines stay pending in memory
  and the window grows until a persist() succeeds.

Lines get increasing ids (AUTOINCREMENT: never reused, even after deletes), so after a
restart what is on disk is forwarded first, in order, and new lines queue behind it.
Limits: `max_lines` and `max_bytes` (UTF-8) count persisted and pending lines; when full,
`drop_newest` refuses new lines at `put()`, `drop_oldest` deletes the oldest rows at
`persist()`. `max_age_s` deletes rows from the front of the queue while they are older (the
queue is taken as ordered by put time). Drops are counted in `stats.dropped` and logged once
per episode. Every SQLite call runs in a worker thread, one at a time.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal, TypeVar

from gateway.buffer.base import Batch, BufferStats
from gateway.clock import Clock, SystemClock

log = logging.getLogger(__name__)

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lines ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, put_ns INTEGER NOT NULL, line TEXT NOT NULL)"
)
_SIZE = "length(CAST(line AS BLOB))"  # UTF-8 bytes
_OLDEST = "(SELECT put_ns FROM lines ORDER BY id LIMIT 1)"
_RECOVER = f"SELECT count(*), total({_SIZE}), {_OLDEST} FROM lines"
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_FULL = "Buffer %s full (%d lines, %d bytes max): dropping the %s lines."
_FAILED = "Buffer %s: persisting to %s failed (%s); %d lines stay pending and are retried."
_MOVED = "Buffer %s: %s is unreadable (%s); moved it to %s and started an empty buffer."

T = TypeVar("T")
_Chunk = tuple[int, tuple[str, ...], int]  # (put time, lines, bytes) of one put()


@dataclass
class _Disk:
    """What is on disk after a transaction, and what it dropped."""

    lines: int
    bytes: int
    oldest: int | None
    full: int = 0
    age: int = 0


class SqliteBuffer:
    """A bounded FIFO of lines in a SQLite file; survives restarts and SIGKILL."""

    durable = True

    def __init__(
        self,
        path: str | Path,
        *,
        name: str = "sqlite",
        max_lines: int = 10_000_000,
        max_bytes: int = 2 * 1024**3,
        max_age_s: float | None = None,
        when_full: Literal["drop_oldest", "drop_newest"] = "drop_oldest",
        fsync: bool = False,
        clock: Clock | None = None,
    ) -> None:
        if when_full not in ("drop_oldest", "drop_newest"):
            raise ValueError(f"when_full must be drop_oldest or drop_newest, not {when_full!r}")
        self.path = Path(path)
        self.name = name
        self.max_lines, self.max_bytes, self.max_age_s = max_lines, max_bytes, max_age_s
        self.when_full = when_full
        self.fsync = fsync
        self.clock = clock or SystemClock()
        self.stats = BufferStats()
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()
        self._pending: list[_Chunk] = []
        self._lock_file: IO[str] | None = None
        self._pending_lines = self._pending_bytes = 0
        self._disk = _Disk(0, 0, None)
        self._full = False  # in an overflow episode (logged once)
        self._failing = False  # in a persist failure episode (logged once)

    async def open(self) -> None:
        await self._serial(self._open)

    async def _open(self) -> None:
        if self._conn is None:
            self._conn, self._disk = await asyncio.to_thread(self._open_sync)
            self._levels()

    def put(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        chunk = tuple(lines)
        size = _size(chunk)
        self.stats.received += len(chunk)
        if self.when_full == "drop_newest":
            chunk, size = self._admit(chunk, size)
            if not chunk:
                return
        now = self.clock.now_ns()
        self._pending.append((now, chunk, size))
        self._pending_lines += len(chunk)
        self._pending_bytes += size
        self.stats.depth += len(chunk)
        self.stats.bytes += size
        if self.stats.oldest_ns is None:
            self.stats.oldest_ns = now

    async def persist(self) -> None:
        await self._serial(lambda: self._persist(self._need_conn()))

    async def begin(self, max_lines: int) -> Batch | None:
        if self._need_conn() and self._disk.lines == 0:
            return None
        rows = await self._serial(lambda: asyncio.to_thread(self._head_sync, max_lines))
        return Batch(rows[0][0], rows[-1][0], tuple(row[1] for row in rows)) if rows else None

    async def ack(self, batch: Batch, count: int | None = None) -> None:
        # ids of persisted lines are consecutive: line k of a batch has id first + k
        last = batch.last if count is None else batch.first + count - 1
        await self._serial(lambda: self._ack(batch.first, last))

    async def close(self) -> None:
        await self._serial(self._close)

    @property
    def unpersisted(self) -> int:
        """Lines put but not (yet) on disk: lost if the process ends now."""
        return self._pending_lines

    # -- in the event loop, one at a time --

    async def _serial(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run `op` under the lock in a task of its own: a caller cancelled meanwhile does not
        cut the operation short, so the connection and the counters stay consistent."""

        async def locked() -> T:
            async with self._lock:
                return await op()

        return await asyncio.shield(locked())

    async def _ack(self, first: int, last: int) -> None:
        disk = await asyncio.to_thread(self._delete_sync, self._need_conn(), first, last)
        self.stats.sent += self._disk.lines - disk.lines
        self._disk = disk
        self._levels()

    async def _close(self) -> None:
        conn = self._conn
        if conn is None:
            return
        await self._persist(conn)
        if self._pending_lines:
            log.error("Buffer %s closed, %d lines not persisted.", self.name, self._pending_lines)
        self._conn = None
        await asyncio.to_thread(conn.close)
        self._release_lock()

    def _need_conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError(f"Buffer {self.name} is not open")
        return self._conn

    async def _persist(self, conn: sqlite3.Connection) -> None:
        cutoff = self._cutoff()
        oldest = self.stats.oldest_ns
        expired = cutoff is not None and oldest is not None and oldest < cutoff
        if not self._pending and not expired:
            return
        chunks = self._pending[:]  # put() may append while the thread writes
        try:
            disk = await asyncio.to_thread(self._persist_sync, conn, chunks, cutoff)
        except sqlite3.Error as exc:
            self._persist_failed(exc)
            return
        del self._pending[: len(chunks)]
        self._pending_lines -= sum(len(c[1]) for c in chunks)
        self._pending_bytes -= sum(c[2] for c in chunks)
        self._disk = disk
        if disk.full:
            self._drop("full", disk.full, "oldest")
        self.stats.dropped["age"] += disk.age
        if self._failing:
            log.info("Buffer %s: persisting works again.", self.name)
            self._failing = False
        self._levels()

    def _persist_failed(self, exc: sqlite3.Error) -> None:
        if not self._failing:
            log.error(_FAILED, self.name, self.path, exc, self._pending_lines)
            self._failing = True
        if self.when_full == "drop_oldest":
            self._trim_pending()
        self._levels()

    def _cutoff(self) -> int | None:
        if self.max_age_s is None:
            return None
        return self.clock.now_ns() - int(self.max_age_s * 1e9)

    def _over(self, lines: int, size: int) -> bool:
        return lines > self.max_lines or size > self.max_bytes

    def _admit(self, chunk: tuple[str, ...], size: int) -> tuple[tuple[str, ...], int]:
        """drop_newest: the leading lines of `chunk` that fit, and their bytes."""
        if not self._over(self.stats.depth + len(chunk), self.stats.bytes + size):
            return chunk, size
        keep = kept = 0
        for line in chunk[: max(0, self.max_lines - self.stats.depth)]:
            if self.stats.bytes + kept + _line_size(line) > self.max_bytes:
                break
            keep, kept = keep + 1, kept + _line_size(line)
        self._drop("full", len(chunk) - keep, "newest")
        return chunk[:keep], kept

    def _trim_pending(self) -> None:
        """drop_oldest while persisting fails: bound what waits in memory by the limits."""
        n, b, dropped = self._pending_lines, self._pending_bytes, 0
        while self._pending and self._over(n, b):
            ns, lines, _ = self._pending[0]
            k = 0
            while k < len(lines) and self._over(n, b):
                n, b, k = n - 1, b - _line_size(lines[k]), k + 1
            if k == len(lines):
                del self._pending[0]
            else:
                self._pending[0] = (ns, lines[k:], _size(lines[k:]))
            dropped += k
        self._pending_lines, self._pending_bytes = n, b
        if dropped:
            self._drop("full", dropped, "oldest")

    def _drop(self, reason: str, count: int, which: str) -> None:
        self.stats.dropped[reason] += count
        if reason == "full" and not self._full:
            log.error(_FULL, self.name, self.max_lines, self.max_bytes, which)
            self._full = True

    def _levels(self) -> None:
        s, disk = self.stats, self._disk
        s.depth = disk.lines + self._pending_lines
        s.bytes = disk.bytes + self._pending_bytes
        s.oldest_ns = self._pending[0][0] if self._pending else None
        if disk.lines:
            s.oldest_ns = disk.oldest
        if self._full and s.depth < 0.9 * self.max_lines and s.bytes < 0.9 * self.max_bytes:
            log.info("Buffer %s is below 90 %% of its limits again.", self.name)
            self._full = False

    # -- in a worker thread, under the lock --

    def _open_sync(self) -> tuple[sqlite3.Connection, _Disk]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            return self._connect_or_recover()
        except BaseException:
            self._release_lock()
            raise

    def _connect_or_recover(self) -> tuple[sqlite3.Connection, _Disk]:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _CORRUPT:
                raise
            moved = self._move_aside()
            log.error(_MOVED, self.name, self.path, exc, moved)
        return self._connect()

    def _take_lock(self) -> None:
        """One gateway per buffer file: two would send the same lines (flock on <file>.lock,
        released by the OS even after a crash)."""
        handle = open(self.path.with_name(self.path.name + ".lock"), "a+")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RuntimeError(f"buffer {self.path} is in use by another gateway process") from None
        self._lock_file = handle

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # releases the flock
            self._lock_file = None

    def _connect(self) -> tuple[sqlite3.Connection, _Disk]:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(_SCHEMA)  # reads first: a corrupt file is moved aside unchanged
            lines, size, oldest = conn.execute(_RECOVER).fetchone()
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                log.warning("Buffer %s: journal mode %s, not WAL.", self.name, mode)
            conn.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
        except BaseException:
            conn.close()
            raise
        return conn, _Disk(lines, int(size), oldest)

    def _move_aside(self) -> Path:
        """Rename the database (and its WAL and shared-memory files) to `*.corrupt-<UTC>`."""
        stamp = datetime.fromtimestamp(self.clock.now_ns() / 1e9, UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target, n = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}"), n + 1
        for suffix in ("-wal", "-shm", ""):
            src = self.path.with_name(self.path.name + suffix)
            if src.exists():
                src.rename(target.with_name(target.name + suffix))
        return target

    def _persist_sync(
        self, conn: sqlite3.Connection, chunks: list[_Chunk], cutoff: int | None
    ) -> _Disk:
        rows = ((ns, line) for ns, lines, _ in chunks for line in lines)
        d = self._disk
        disk = _Disk(
            d.lines + sum(len(c[1]) for c in chunks),
            d.bytes + sum(c[2] for c in chunks),
            d.oldest if d.lines else (chunks[0][0] if chunks else None),
        )
        with _transaction(conn):
            conn.executemany("INSERT INTO lines (put_ns, line) VALUES (?, ?)", rows)
            self._trim_front(conn, disk, cutoff)
        return disk

    def _trim_front(self, conn: sqlite3.Connection, disk: _Disk, cutoff: int | None) -> None:
        """Delete rows from the front while older than `cutoff` or over the limits (drop_oldest)."""
        by_size = self.when_full == "drop_oldest"
        old = cutoff is not None and disk.oldest is not None and disk.oldest < cutoff
        if not old and not (by_size and self._over(disk.lines, disk.bytes)):
            return
        cut, disk.oldest = None, None
        cursor = conn.execute(f"SELECT id, put_ns, {_SIZE} FROM lines ORDER BY id")
        for row_id, put_ns, size in cursor:
            if cutoff is not None and put_ns < cutoff:
                disk.age += 1
            elif by_size and self._over(disk.lines, disk.bytes):
                disk.full += 1
            else:
                disk.oldest = put_ns
                break
            cut, disk.lines, disk.bytes = row_id, disk.lines - 1, disk.bytes - size
        cursor.close()
        if cut is not None:
            conn.execute("DELETE FROM lines WHERE id <= ?", (cut,))

    def _head_sync(self, max_lines: int) -> list[tuple[int, str]]:
        sql = "SELECT id, line FROM lines ORDER BY id LIMIT ?"
        return self._need_conn().execute(sql, (max_lines,)).fetchall()

    def _delete_sync(self, conn: sqlite3.Connection, first: int, last: int) -> _Disk:
        d = self._disk
        with _transaction(conn):
            sql = f"SELECT count(*), total({_SIZE}) FROM lines WHERE id BETWEEN ? AND ?"
            count, size = conn.execute(sql, (first, last)).fetchone()
            if not count:
                return _Disk(d.lines, d.bytes, d.oldest)
            conn.execute("DELETE FROM lines WHERE id BETWEEN ? AND ?", (first, last))
            oldest = conn.execute(f"SELECT {_OLDEST}").fetchone()[0]
        return _Disk(d.lines - count, d.bytes - int(size), oldest)


@contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT; rolled back when anything in it (or the COMMIT) fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        raise


def _size(lines: tuple[str, ...]) -> int:
    """UTF-8 bytes of `lines` (fast when they are ASCII, as line protocol mostly is)."""
    if all(map(str.isascii, lines)):
        return sum(map(len, lines))
    return sum(len(line.encode()) for line in lines)


def _line_size(line: str) -> int:
    return len(line) if line.isascii() else len(line.encode())
