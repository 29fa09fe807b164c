"""Durable store-and-forward buffer: one SQLite database in WAL mode, with a memory tail.

Commit policy. `put()` only appends to a list in memory (the pending lines); `persist()`
writes everything put so far in one transaction. The runtime calls `persist()` every
`commit_interval`, so:

- `kill -9` (SIGKILL, a crash of the process) loses exactly the lines put but not yet
  persisted: at most one `commit_interval` plus the duration of one persist() (lines put
  while a persist() runs wait for the next one). A committed transaction is in the WAL file,
  which the OS keeps when the process dies (`synchronous=NORMAL`, the default).
- Power loss or a kernel crash may also lose the last committed transactions with
  `fsync=False`, but never corrupts the database. With `fsync=True` (`synchronous=FULL`)
  every commit is fsynced and survives power loss, at a lower persist rate.
- Window zero: await persist() after each put(); a line is then durable before the caller
  goes on.

Not durable (disk full, I/O error). While persisting fails, `problem` says why (logged once
at ERROR, INFO when a persist works again) and the data keeps flowing: `begin()` hands out
what is on disk first, then, from memory and in order, the pending lines a persist failed
on (every line is tried on disk first, so the next commit notices when space is back). A line
sent from memory and acknowledged is gone for good (it is never persisted later); one that is
persisted while its write is still running is deleted when that write is acknowledged.
Acknowledged rows that cannot be deleted are marked (deletes.py); after a crash meanwhile
they are sent again (InfluxDB overwrites identical points). Acknowledged rows of a hand-over
are marked too, without a transaction of their own: the next commit deletes them in its
transaction (one transaction per write instead of two), so a crash before it resends at most
the lines acknowledged since the last commit.

Lines get increasing ids (AUTOINCREMENT: never reused, even after deletes), so after a
restart what is on disk is forwarded first, in order, and new lines queue behind it.
Hand-over: the lines of the last transactions stay in memory with their ids (handover.py);
while they are all the rows not acknowledged, `begin()` returns them without reading them
back, and their ack deletes `id <= last`. They are committed before they are handed over, so
a crash resends one not acknowledged yet, as for a batch read back.
Limits: `max_lines` and `max_bytes` (UTF-8) count persisted and pending lines; when full,
`drop_newest` refuses new lines at `put()`, `drop_oldest` deletes the oldest rows at
`persist()` (while persisting fails, deleting rows needs space too: the oldest pending lines
go instead, as many as disk and memory together are over the limits). `max_age_s` deletes rows
from the front of the queue while they are older (the queue is taken as ordered by put
time). Lines a forwarder is sending are neither dropped nor counted against the limits until
their write ended: they are counted as sent or, if the write failed, limited again. Drops are
counted in `stats.dropped` and logged once per episode. Every SQLite call runs in a worker
thread, one at a time.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

from gateway.buffer.base import Batch, BufferStats
from gateway.buffer.deletes import Deletes
from gateway.buffer.flight import NOTHING, Flight
from gateway.buffer.handover import Handover
from gateway.buffer.limits import Limits, WhenFull
from gateway.buffer.pending import Pending, line_bytes
from gateway.buffer.sqlitestore import Disk, SqliteStore
from gateway.clock import Clock, SystemClock

log = logging.getLogger(__name__)

_FAILED = (
    "Buffer %s is not durable: persisting to %s failed (%s); %d lines are held in memory, "
    "sent from there while the sink is up, and persisted when it works again."
)

T = TypeVar("T")

HANDOVER_BYTES = 8 * 1024**2  # committed lines kept for the forwarder (the rest is read back)


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
        when_full: WhenFull = "drop_oldest",
        fsync: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = name
        self.fsync = fsync
        self.clock = clock or SystemClock()
        self.stats = BufferStats()
        self.limits = Limits(
            name, self.stats, self.clock, max_lines, max_bytes, max_age_s, when_full
        )
        self.problem: str | None = None  # why the buffer is not durable now (None: it is)
        self._store = SqliteStore(self.path, name, self.clock, fsync)
        self._lock = asyncio.Lock()
        self._pending = Pending()
        self._disk = Disk(0, 0, None)  # rows not acknowledged
        self._deletes = Deletes(self._store, name)  # deleted, or marked while that fails
        self._flight: Flight | None = None
        self._handover = Handover(HANDOVER_BYTES)  # the last transactions' lines, with ids

    @property
    def _conn(self) -> sqlite3.Connection | None:
        return self._store.conn

    async def open(self) -> None:
        await self._serial(self._open)

    async def _open(self) -> None:
        if self._store.conn is None:
            self._disk = await asyncio.to_thread(self._store.open)
            self._levels()

    def put(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        chunk = tuple(lines)
        size = line_bytes(chunk)
        self.stats.received += len(chunk)
        if self.limits.when_full == "drop_newest":
            chunk, size = self.limits.admit(chunk, size)
            if not chunk:
                return
        now = self.clock.now_ns()
        self._pending.append(now, chunk, size)
        self.stats.depth += len(chunk)
        self.stats.bytes += size
        if self.stats.oldest_ns is None:
            self.stats.oldest_ns = now

    async def persist(self) -> None:
        self._store.need()
        await self._serial(self._persist)

    async def begin(self, max_lines: int) -> Batch | None:
        self._store.need()
        if not self._disk.lines and (self.problem is None or not self._pending.tried):
            self._flight = None
            return None  # the common idle case, without a thread hop
        if not self._lock.locked() and self._handover.covers(self._disk.lines) and max_lines > 0:
            return self._hand_over(max_lines)  # no I/O, no await: nothing runs in between
        return await self._serial(lambda: self._begin(max_lines))

    async def ack(self, batch: Batch, count: int | None = None) -> None:
        last = batch.upto(count)  # by the batch's own ids: they may have gaps
        acked = len(batch.lines) if count is None else max(0, min(count, len(batch.lines)))
        await self._serial(lambda: self._ack(batch, last, acked))

    async def close(self) -> None:
        await self._serial(self._close)

    @property
    def unpersisted(self) -> int:
        """Lines put but not (yet) on disk: lost if the process ends now."""
        return self._pending.lines

    # -- in the event loop, one at a time --

    async def _serial(self, op: Callable[[], Awaitable[T]]) -> T:
        """Run `op` under the lock in a task of its own: a caller cancelled meanwhile does not
        cut the operation short, so the connection and the counters stay consistent."""

        async def locked() -> T:
            async with self._lock:
                return await op()

        return await asyncio.shield(locked())

    def _hand_over(self, max_lines: int) -> Batch:
        """The oldest lines from the hand-over (they are all the rows not acknowledged)."""
        ids, text = self._handover.head(max_lines)
        self._flight = Flight(ids[0], ids[-1], len(text), line_bytes(text))
        return Batch(ids[0], ids[-1], text, ids=ids)

    async def _begin(self, max_lines: int) -> Batch | None:
        self._flight = None
        if self._handover.covers(self._disk.lines) and max_lines > 0:
            return self._hand_over(max_lines)
        if self._disk.lines:
            rows = await asyncio.to_thread(self._store.head, self._deletes.marked, max_lines)
            if rows:
                ids, text = tuple(row[0] for row in rows), tuple(row[1] for row in rows)
                self._flight = Flight(ids[0], ids[-1], len(text), line_bytes(text))
                return Batch(ids[0], ids[-1], text, ids=ids)
        if self.problem is None or not self._pending.tried:
            return None
        lines = self._pending.head(min(max_lines, self._pending.tried))
        first, last = self._pending.first, self._pending.first + len(lines) - 1
        self._flight = Flight(first, last, len(lines), line_bytes(lines), memory=True)
        return Batch(first, last, lines, memory=True)

    async def _ack(self, batch: Batch, last: int, acked: int) -> None:
        flight = self._flight
        same = flight is not None and flight.memory and flight.first == batch.first
        moved = flight.disk_first if flight is not None and same else None
        if not batch.memory:
            known = self._flight.known(batch, acked) if self._flight else None
            await self._ack_rows(batch.first, last, known)
        elif moved is not None:  # persisted while it was being sent: its rows go
            await self._ack_rows(moved, moved + last - batch.first)
        else:
            sent = self._pending.pop(max(0, last + 1 - self._pending.first))
            self.stats.sent += sent
            self.stats.unpersisted_sent += sent
        self._flight = None  # only now: an ack that failed is retried against the same rows
        self._levels()

    async def _ack_rows(self, first: int, last: int, known: tuple[int, int] | None = None) -> None:
        if last < first:
            return
        disk = self._disk
        after = self._defer_delete(disk, first, last, known)  # tells the hand-over itself
        if after is None:
            after = await self._deletes.acknowledge(disk, first, last, known)
            self._handover.acknowledged(first, last)
        self.stats.sent += disk.lines - after.lines
        self._disk = after

    def _defer_delete(
        self, disk: Disk, first: int, last: int, known: tuple[int, int] | None
    ) -> Disk | None:
        """The rows left once the front of the hand-over (`first`..`last`, `known` lines and
        bytes) is acknowledged, without a transaction: they are marked, skipped by reads and
        deleted in the next commit's transaction. None when the rows are not that front."""
        if known is None or not self._handover.covers(disk.lines):
            return None
        lines, size = disk.lines - known[0], disk.bytes - known[1]
        self._handover.acknowledged(first, last)
        if self._handover.lines != lines:  # not its front after all: delete them now
            self._handover.clear()
            return None
        self._deletes.defer(last)
        return Disk(lines, size, self._handover.oldest_ns)

    async def _close(self) -> None:
        if self._store.conn is None:
            return
        self._flight = None  # the forwarders are done: persist everything
        self._handover.clear()
        await self._persist()
        if self._pending.lines:
            log.error("Buffer %s closed, %d lines not persisted.", self.name, self._pending.lines)
        await asyncio.to_thread(self._store.close)

    async def _persist(self) -> None:
        cutoff = self.limits.cutoff()
        oldest = self.stats.oldest_ns
        expired = cutoff is not None and oldest is not None and oldest < cutoff
        if not self._pending.lines and not expired and not self._deletes.marked:
            return
        chunks = self._pending.chunks[:]  # put() may append while the thread writes
        flight = self._flight
        protect = flight.rows() if flight else NOTHING
        in_memory = flight is not None and flight.unpersisted
        over = self.limits.over if self.limits.when_full == "drop_oldest" else None
        try:
            disk = await asyncio.to_thread(
                self._store.persist,
                self._disk,
                chunks,
                self._deletes.marked,
                cutoff,
                over,
                protect,
                flight.lines if flight and in_memory else 0,
            )
        except sqlite3.Error as exc:
            self._pending.tried = sum(len(c[1]) for c in chunks)
            self._persist_failed(exc)
            return
        self._deletes.marked = 0
        self._pending.pop(sum(len(c[1]) for c in chunks))
        if flight and in_memory:
            flight.disk_first = disk.first_new  # its lines lead the chunks just inserted
        self._disk = disk
        if disk.full or disk.age:  # rows were trimmed: read back what is left
            self._handover.clear()
        elif chunks:
            self._handover.add(disk.first_new, chunks)
        if disk.full:
            self.limits.drop("full", disk.full, "oldest")
        self.stats.dropped["age"] += disk.age
        if self.problem is not None:
            log.info("Buffer %s is durable again: persisting works.", self.name)
            self.problem = None
        self._levels()

    def _persist_failed(self, exc: sqlite3.Error) -> None:
        if self.problem is None:
            log.error(_FAILED, self.name, self.path, exc, self._pending.lines)
        full = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL
        self.problem = "disk full" if full else str(exc)
        if self.limits.when_full == "drop_oldest":  # bound what waits in memory by the limits
            dropped = self._pending.trim(*self._memory_room())
            if dropped:
                self.limits.drop("full", dropped, "oldest")
        self._levels()

    def _memory_room(self) -> tuple[Callable[[int, int], bool], int]:
        """While persisting fails: whether memory lines (lines, bytes) are over the limits,
        counted with the rows on disk, and how many leading memory lines are in flight. The
        lines over them go from memory: deleting rows would need space too."""
        flight, disk = self._flight, self._disk
        in_memory = flight is not None and flight.unpersisted
        held_lines, held_bytes = disk.lines, disk.bytes
        if flight is not None and not in_memory:  # its rows are on disk
            held_lines, held_bytes = held_lines - flight.lines, held_bytes - flight.bytes

        def over(lines: int, size: int) -> bool:
            return self.limits.over(lines + held_lines, size + held_bytes)

        return over, flight.lines if flight is not None and in_memory else 0

    def _levels(self) -> None:
        s, disk = self.stats, self._disk
        s.depth = disk.lines + self._pending.lines
        s.bytes = disk.bytes + self._pending.bytes
        s.oldest_ns = self._pending.oldest_ns
        if disk.lines:
            s.oldest_ns = disk.oldest
        self.limits.levels_changed()
