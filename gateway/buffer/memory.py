"""In-memory buffer, bounded, dropping the oldest lines when full (counted, logged per episode)."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence

from gateway.buffer.base import Batch

log = logging.getLogger(__name__)


class MemoryBuffer:
    """A bounded FIFO of lines with sequence numbers."""

    def __init__(self, max_lines: int = 1_000_000, name: str = "memory") -> None:
        self.max_lines = max_lines
        self.name = name
        self._lines: deque[str] = deque()
        self._first = 0  # sequence number of _lines[0]
        self.received = 0
        self.sent = 0
        self.dropped = 0
        self._overflowing = False

    @property
    def depth(self) -> int:
        return len(self._lines)

    def put(self, lines: Sequence[str]) -> int:
        self._lines.extend(lines)
        self.received += len(lines)
        excess = len(self._lines) - self.max_lines
        if excess <= 0:
            self._overflowing = False
            return 0
        for _ in range(excess):
            self._lines.popleft()
        self._first += excess
        self.dropped += excess
        if not self._overflowing:
            log.error(
                "Buffer %s full (%d lines): dropping the oldest lines.", self.name, self.max_lines
            )
            self._overflowing = True
        return excess

    def begin(self, max_lines: int) -> Batch | None:
        if not self._lines:
            return None
        count = min(max_lines, len(self._lines))
        lines = tuple(self._lines[i] for i in range(count))
        return Batch(self._first, lines)

    def commit(self, batch: Batch) -> None:
        end = batch.first + len(batch.lines)
        remove = max(0, min(end - self._first, len(self._lines)))
        for _ in range(remove):
            self._lines.popleft()
        self._first += remove
        self.sent += remove
