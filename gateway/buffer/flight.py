"""The batch of the durable buffer a forwarder is sending: which rows (or memory positions) it
holds, so that they are neither dropped nor counted against the limits until its write ended.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.buffer.base import Batch
from gateway.buffer.pending import line_bytes

NOTHING = (0, -1)  # an empty id range


@dataclass
class Flight:
    """The batch handed out by begin() and not acknowledged yet."""

    first: int
    last: int
    lines: int  # how many, and their bytes: not counted against the limits while in flight
    bytes: int
    memory: bool = False  # pending lines; `first`..`last` are positions in the memory order
    disk_first: int | None = None  # id of its first line once persisted meanwhile

    def rows(self) -> tuple[int, int]:
        """Its id range on disk (NOTHING while it is only in memory)."""
        if not self.memory:
            return self.first, self.last
        if self.disk_first is None:
            return NOTHING
        return self.disk_first, self.disk_first + self.last - self.first

    @property
    def unpersisted(self) -> bool:
        """Lines sent from memory that are not on disk yet."""
        return self.memory and self.disk_first is None

    def known(self, batch: Batch, acked: int) -> tuple[int, int] | None:
        """(lines, bytes) of the first `acked` lines of `batch` if it is this flight's, read
        from disk or handed over: its rows are all there (spared by the limits) and no row not
        acknowledged is older, so deleting them needs no counting. None for any other batch
        (one acknowledged twice, an unknown one, or lines sent from memory)."""
        if self.memory or (self.first, self.last) != (batch.first, batch.last):
            return None
        if acked == self.lines:
            return acked, self.bytes
        return acked, line_bytes(batch.lines[:acked])
