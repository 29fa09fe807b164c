"""The SQLite file of the durable buffer: open (lock, recover, move a corrupt file aside) and
the transactions the buffer runs, each in a worker thread, one at a time.

Rows are `(id, put_ns, line)`; ids come from AUTOINCREMENT, so they are never reused and the
rows of one insert get consecutive ids. Rows up to `marked` are acknowledged but not deleted
yet (deleting failed, e.g. on a full disk): they are skipped by reads and deleted by the next
transaction that succeeds. `protect` is the id range of rows a forwarder is sending: they are
neither dropped nor counted against the limits until their write ended.
"""

from __future__ import annotations

import fcntl
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from gateway.clock import Clock

log = logging.getLogger("gateway.buffer.sqlite")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lines ("
    "id INTEGER PRIMARY KEY AUTOINCREMENT, put_ns INTEGER NOT NULL, line TEXT NOT NULL)"
)
_SIZE = "length(CAST(line AS BLOB))"  # UTF-8 bytes
_OLDEST = "(SELECT put_ns FROM lines ORDER BY id LIMIT 1)"
_RECOVER = f"SELECT count(*), total({_SIZE}), {_OLDEST} FROM lines"
_OLDEST_AFTER = "SELECT put_ns FROM lines WHERE id > ? ORDER BY id LIMIT 1"
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
_MOVED = "Buffer %s: %s is unreadable (%s); moved it to %s and started an empty buffer."

Chunk = tuple[int, tuple[str, ...], int]  # (put time, lines, bytes) of one put()
Over = Callable[[int, int], bool]  # (lines, bytes) -> over the limits


@dataclass
class Disk:
    """The rows not yet acknowledged, after a transaction, and what it dropped."""

    lines: int
    bytes: int
    oldest: int | None
    full: int = 0
    age: int = 0
    first_new: int = 0  # id of the first row inserted by the transaction


class SqliteStore:
    """The connection to one buffer file, used from one worker thread at a time."""

    def __init__(self, path: Path, name: str, clock: Clock, fsync: bool) -> None:
        self.path, self.name, self.clock, self.fsync = path, name, clock, fsync
        self.conn: sqlite3.Connection | None = None
        self._lock_file: IO[str] | None = None

    def open(self) -> Disk:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            self.conn, disk = self._connect_or_recover()
        except BaseException:
            self._release_lock()
            raise
        return disk

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
        self._release_lock()

    def need(self) -> sqlite3.Connection:
        if self.conn is None:
            raise RuntimeError(f"Buffer {self.name} is not open")
        return self.conn

    # -- reads and transactions --

    def head(self, marked: int, max_lines: int) -> list[tuple[int, str]]:
        sql = "SELECT id, line FROM lines WHERE id > ? ORDER BY id LIMIT ?"
        return self.need().execute(sql, (marked, max_lines)).fetchall()

    def persist(
        self,
        d: Disk,
        chunks: list[Chunk],
        marked: int,
        cutoff: int | None,
        over: Over | None,
        protect: tuple[int, int],
        protect_new: int,
    ) -> Disk:
        """Delete the marked rows, insert `chunks`, then trim the front (age; limits when
        `over` is given). `protect_new`: the first rows inserted are being sent."""
        conn = self.need()
        added = sum(len(c[1]) for c in chunks)
        disk = Disk(d.lines + added, d.bytes + sum(c[2] for c in chunks), d.oldest)
        if not d.lines and chunks:
            disk.oldest = chunks[0][0]
        with transaction(conn):
            if marked:
                conn.execute("DELETE FROM lines WHERE id <= ?", (marked,))
            rows = ((ns, line) for ns, lines, _ in chunks for line in lines)
            conn.executemany("INSERT INTO lines (put_ns, line) VALUES (?, ?)", rows)
            if added:
                disk.first_new = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
                disk.first_new -= added - 1
            if protect_new:
                protect = (disk.first_new, disk.first_new + protect_new - 1)
            self._trim_front(conn, disk, cutoff, over, protect)
        return disk

    def _trim_front(
        self,
        conn: sqlite3.Connection,
        disk: Disk,
        cutoff: int | None,
        over: Over | None,
        protect: tuple[int, int],
    ) -> None:
        """Delete rows from the front while older than `cutoff` or over the limits."""
        low, high = protect
        old = cutoff is not None and disk.oldest is not None and disk.oldest < cutoff
        if over is not None and not over(disk.lines, disk.bytes):
            over = None  # under the limits even with the rows in flight: nothing to count
        held = _sum(conn, low, high) if over is not None else (0, 0)
        if not old and not (over and over(disk.lines - held[0], disk.bytes - held[1])):
            return
        cut, first_kept = 0, None
        cursor = conn.execute(f"SELECT id, put_ns, {_SIZE} FROM lines ORDER BY id")
        for row_id, put_ns, size in cursor:
            if low <= row_id <= high:  # being sent: kept whatever its age
                first_kept = put_ns if first_kept is None else first_kept
                continue
            if cutoff is not None and put_ns < cutoff:
                disk.age += 1
            elif over and over(disk.lines - held[0], disk.bytes - held[1]):
                disk.full += 1
            else:
                first_kept = put_ns if first_kept is None else first_kept
                break
            cut, disk.lines, disk.bytes = row_id, disk.lines - 1, disk.bytes - size
        cursor.close()
        disk.oldest = first_kept
        if cut:
            sql = "DELETE FROM lines WHERE id <= ? AND id NOT BETWEEN ? AND ?"
            conn.execute(sql, (cut, low, high))

    def delete(
        self, d: Disk, first: int, last: int, marked: int, known: tuple[int, int] | None = None
    ) -> Disk:
        """Remove acknowledged rows `first`..`last` (and the marked ones). `known`: their
        (lines, bytes) when they are the oldest rows not acknowledged and all on disk."""
        conn = self.need()
        if known is not None:
            with transaction(conn):
                conn.execute("DELETE FROM lines WHERE id <= ?", (last,))
            lines, size = d.lines - known[0], d.bytes - known[1]
            oldest = conn.execute(_OLDEST_AFTER, (last,)).fetchone() if lines else None
            return Disk(lines, size, oldest[0] if oldest else None)
        with transaction(conn):
            count, size = _sum(conn, max(first, marked + 1), last)
            if not count and not marked:
                return Disk(d.lines, d.bytes, d.oldest)
            sql = "DELETE FROM lines WHERE id <= ? OR id BETWEEN ? AND ?"
            conn.execute(sql, (marked, first, last))
            oldest = conn.execute(_OLDEST_AFTER, (0,)).fetchone()
        return Disk(d.lines - count, d.bytes - int(size), oldest[0] if oldest else None)

    def mark(self, d: Disk, first: int, last: int, marked: int) -> Disk | None:
        """Without writing: the levels once rows up to `last` count as acknowledged; None
        when rows older than `first` are still unacknowledged (then marking is not allowed)."""
        conn = self.need()
        if _sum(conn, marked + 1, first - 1)[0]:
            return None
        count, size = _sum(conn, max(first, marked + 1), last)
        oldest = conn.execute(_OLDEST_AFTER, (max(last, marked),)).fetchone()
        return Disk(d.lines - count, d.bytes - int(size), oldest[0] if oldest else None)

    # -- opening --

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

    def _connect_or_recover(self) -> tuple[sqlite3.Connection, Disk]:
        try:
            return self._connect()
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", 0) & 0xFF not in _CORRUPT:
                raise
            moved = self._move_aside()
            log.error(_MOVED, self.name, self.path, exc, moved)
        return self._connect()

    def _connect(self) -> tuple[sqlite3.Connection, Disk]:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(_SCHEMA)  # reads first: a corrupt file is moved aside unchanged
            lines, size, oldest = conn.execute(_RECOVER).fetchone()
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                log.warning("Buffer %s: journal mode %s, not WAL.", self.name, mode)
            conn.execute(f"PRAGMA synchronous={'FULL' if self.fsync else 'NORMAL'}")
            # Debian's SQLite zeroes every deleted row (SECURE_DELETE): a page write more per
            # acknowledged batch for data that is no secret; FAST only zeroes what costs no I/O
            conn.execute("PRAGMA secure_delete=FAST")
        except BaseException:
            conn.close()
            raise
        return conn, Disk(lines, int(size), oldest)

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


def _sum(conn: sqlite3.Connection, low: int, high: int) -> tuple[int, int]:
    """(rows, bytes) with ids in low..high."""
    if high < low:
        return 0, 0
    sql = f"SELECT count(*), total({_SIZE}) FROM lines WHERE id BETWEEN ? AND ?"
    count, size = conn.execute(sql, (low, high)).fetchone()
    return int(count), int(size)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
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
