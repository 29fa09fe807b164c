"""The buffer contract: lines leave a buffer only when the sink acknowledged them.

`put(lines)` queues lines without blocking (no I/O); `persist()` makes everything put so far
durable (one transaction for the SQLite buffer; a no-op in memory). `begin(n)` returns the
oldest persisted lines without removing them; `ack(batch)` removes them once the sink has
accepted them. Anything not acknowledged stays queued, in order, also across restarts for a
durable buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Batch:
    """Lines with sequence numbers `first` .. `last` (inclusive) of the buffer's order."""

    first: int
    last: int
    lines: tuple[str, ...]
    memory: bool = False  # lines not persisted (sent from memory while the disk fails)
    # the number of each line when they may have gaps (rows dropped around a batch in flight
    # leave gaps in the ids); empty: consecutive from `first`
    ids: tuple[int, ...] = ()

    def upto(self, count: int | None) -> int:
        """The number of the last of the first `count` lines (None: all; first - 1: none)."""
        if count is None:
            return self.last
        if count <= 0:
            return self.first - 1
        return self.ids[count - 1] if self.ids else self.first + count - 1


@dataclass
class BufferStats:
    """Counters and levels of one buffer (exported as metrics)."""

    received: int = 0  # lines put
    sent: int = 0  # lines acknowledged and removed
    unpersisted_sent: int = 0  # of them: sent from memory, never persisted (disk failing)
    dropped: dict[str, int] = field(default_factory=lambda: {"full": 0, "age": 0})
    depth: int = 0  # lines held (persisted and pending)
    bytes: int = 0  # bytes of the lines held (UTF-8)
    oldest_ns: int | None = None  # put time of the oldest line held


class Buffer(Protocol):
    """Store-and-forward queue of line-protocol lines."""

    name: str
    stats: BufferStats
    durable: bool  # survives a restart of the gateway
    problem: str | None  # why a durable buffer cannot persist now ("disk full"); else None

    async def open(self) -> None:
        """Open (and for a durable buffer, recover) the store."""
        ...

    def put(self, lines: Sequence[str]) -> None:
        """Queue lines (the overflow policy may drop lines; counted in stats.dropped)."""
        ...

    async def persist(self) -> None:
        """Make every line put so far durable."""
        ...

    async def begin(self, max_lines: int) -> Batch | None:
        """The oldest persisted lines (at most `max_lines`), still queued; None when empty."""
        ...

    async def ack(self, batch: Batch, count: int | None = None) -> None:
        """Remove an acknowledged batch, or only its first `count` lines (0: the write
        failed; the batch is no longer in flight)."""
        ...

    async def close(self) -> None:
        """Persist what is pending and release the store."""
        ...

    @property
    def unpersisted(self) -> int:
        """Lines put but not on disk (after close: lines that could not be saved)."""
        ...
