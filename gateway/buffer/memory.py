"""In-memory buffer: bounded, dropping the oldest lines when full (counted, logged per episode).
Lines being sent are neither dropped nor counted against `max_lines` until their write ended.

Not durable: what it holds is lost when the process ends. Used by tests and by `buffer:
{type: memory}`.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from gateway.buffer.base import Batch, BufferStats
from gateway.clock import Clock, SystemClock

log = logging.getLogger(__name__)


class MemoryBuffer:
    """A bounded FIFO of lines with sequence numbers."""

    durable = False
    problem: str | None = None  # never "not durable": it is not meant to be

    def __init__(
        self, max_lines: int = 1_000_000, name: str = "memory", clock: Clock | None = None
    ) -> None:
        self.max_lines = max_lines
        self.name = name
        self.clock = clock or SystemClock()
        self.stats = BufferStats()
        self._lines: deque[tuple[int, str]] = deque()  # (put time, line)
        self._first = 0  # sequence number of _lines[0]
        self._flight = 0  # leading lines being sent: neither dropped nor counted
        self._overflowing = False

    async def open(self) -> None:
        return None

    def put(self, lines: Sequence[str]) -> None:
        now = self.clock.now_ns()
        self._lines.extend((now, line) for line in lines)
        self.stats.received += len(lines)
        self.stats.bytes += sum(len(line) for line in lines)
        excess = len(self._lines) - self._flight - self.max_lines
        if excess > 0:
            self._lines.rotate(-self._flight)  # drop the oldest lines after those in flight
            for _ in range(excess):
                self.stats.bytes -= len(self._lines.popleft()[1])
            self._lines.rotate(self._flight)
            if not self._flight:
                self._first += excess
            self.stats.dropped["full"] += excess
            if not self._overflowing:
                log.error(
                    "Buffer %s full (%d lines): dropping the oldest lines.",
                    self.name,
                    self.max_lines,
                )
                self._overflowing = True
        elif self._overflowing and len(self._lines) < 0.9 * self.max_lines:
            self._overflowing = False
        self._levels()

    async def persist(self) -> None:
        return None

    async def begin(self, max_lines: int) -> Batch | None:
        if not self._lines:
            self._flight = 0
            return None
        count = min(max_lines, len(self._lines))
        lines = tuple(self._lines[i][1] for i in range(count))
        self._flight = count
        return Batch(self._first, self._first + count - 1, lines)

    async def ack(self, batch: Batch, count: int | None = None) -> None:
        last = batch.upto(count)  # positions: a batch is always the first lines held
        remove = max(0, min(last + 1 - self._first, len(self._lines)))
        self._flight = 0
        for _ in range(remove):
            self.stats.bytes -= len(self._lines.popleft()[1])
        self._first += remove
        self.stats.sent += remove
        self._levels()

    async def close(self) -> None:
        return None

    @property
    def unpersisted(self) -> int:
        """Nothing is ever on disk here; losses are judged by `durable` (False)."""
        return 0

    def _levels(self) -> None:
        self.stats.depth = len(self._lines)
        self.stats.oldest_ns = self._lines[0][0] if self._lines else None
