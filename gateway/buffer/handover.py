"""The hand-over of the durable buffer: the lines of its last transactions, kept in memory with
their row ids so that the forwarder gets them without reading them back from SQLite.

They are the newest rows on disk, oldest first, one chunk per put(). They may be handed out
only while every row not acknowledged is one of them (`covers`): otherwise older rows wait on
disk and go first. Any delete they cannot follow (rows trimmed by age or limits) forgets them
all; the rows are still on disk and read back from there. Bounded in bytes: beyond that the
oldest chunks are forgotten (they too stay on disk).
"""

from __future__ import annotations

from collections import deque
from itertools import chain, islice

from gateway.buffer.pending import Chunk, line_bytes

Rows = tuple[int, int, tuple[str, ...], int]  # (first id, put time, lines, bytes)


class Handover:
    """Committed lines with their ids, newest rows of the buffer file."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._rows: deque[Rows] = deque()
        self.lines = 0
        self.bytes = 0

    def covers(self, unacknowledged: int) -> bool:
        """Whether these are all the `unacknowledged` rows on disk (and there are some)."""
        return 0 < unacknowledged == self.lines

    @property
    def oldest_ns(self) -> int | None:
        return self._rows[0][1] if self._rows else None

    def add(self, first_id: int, chunks: list[Chunk]) -> None:
        """Rows just inserted: `chunks` in order, ids consecutive from `first_id`."""
        for put_ns, lines, size in chunks:
            self._rows.append((first_id, put_ns, lines, size))
            first_id += len(lines)
            self.lines += len(lines)
            self.bytes += size
        while self.bytes > self.max_bytes and self._rows:
            self._forget_oldest()

    def clear(self) -> None:
        self._rows.clear()
        self.lines = self.bytes = 0

    def head(self, count: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
        """The ids and lines of the first `count` rows."""
        rows = self._rows
        first, _, lines, _ = rows[0]
        if count <= len(lines):  # the usual case: one chunk
            return tuple(range(first, first + count)), lines[:count]
        ids = chain.from_iterable(range(f, f + len(ls)) for f, _, ls, _ in rows)
        text = chain.from_iterable(r[2] for r in rows)
        return tuple(islice(ids, count)), tuple(islice(text, count))

    def acknowledged(self, first: int, last: int) -> None:
        """Rows `first`..`last` were deleted (or marked as acknowledged)."""
        rows = self._rows
        if not rows or last < rows[0][0]:
            return
        if first > rows[0][0]:  # not the front (an ack that is not of the head): give up
            self.clear()
            return
        while rows:
            start, put_ns, lines, size = rows[0]
            end = start + len(lines) - 1
            if end <= last:
                self._forget_oldest()
                continue
            if start <= last:  # split: the rest of the chunk stays
                keep = lines[last + 1 - start :]
                kept = line_bytes(keep)
                rows[0] = (last + 1, put_ns, keep, kept)
                self.lines -= len(lines) - len(keep)
                self.bytes -= size - kept
            break

    def _forget_oldest(self) -> None:
        _, _, lines, size = self._rows.popleft()
        self.lines -= len(lines)
        self.bytes -= size
