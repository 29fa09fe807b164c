"""The limits of the durable buffer: `max_lines` and `max_bytes` (UTF-8, persisted and pending
lines together), `max_age_s`, and what `when_full` drops. Counts the drops in the buffer's
stats and logs one line per overflow episode (ERROR when it starts, INFO below 90 % again).
"""

from __future__ import annotations

import logging
from typing import Literal

from gateway.buffer.base import BufferStats
from gateway.buffer.pending import line_size
from gateway.clock import Clock

log = logging.getLogger("gateway.buffer.sqlite")  # one logger for the whole durable buffer

_FULL = "Buffer %s full (%d lines, %d bytes max): dropping the %s lines."

WhenFull = Literal["drop_oldest", "drop_newest"]


class Limits:
    """How much a buffer may hold, and the bookkeeping of what it dropped."""

    def __init__(
        self,
        name: str,
        stats: BufferStats,
        clock: Clock,
        max_lines: int,
        max_bytes: int,
        max_age_s: float | None,
        when_full: WhenFull,
    ) -> None:
        if when_full not in ("drop_oldest", "drop_newest"):
            raise ValueError(f"when_full must be drop_oldest or drop_newest, not {when_full!r}")
        self.name, self.stats, self.clock = name, stats, clock
        self.max_lines, self.max_bytes, self.max_age_s = max_lines, max_bytes, max_age_s
        self.when_full = when_full
        self._full = False  # in an overflow episode (logged once)

    def over(self, lines: int, size: int) -> bool:
        return lines > self.max_lines or size > self.max_bytes

    def cutoff(self) -> int | None:
        """Put time (ns) before which a line is too old; None without `max_age_s`."""
        if self.max_age_s is None:
            return None
        return self.clock.now_ns() - int(self.max_age_s * 1e9)

    def admit(self, chunk: tuple[str, ...], size: int) -> tuple[tuple[str, ...], int]:
        """drop_newest: the leading lines of `chunk` that fit, and their bytes."""
        depth, held = self.stats.depth, self.stats.bytes
        if not self.over(depth + len(chunk), held + size):
            return chunk, size
        keep = kept = 0
        for line in chunk[: max(0, self.max_lines - depth)]:
            if held + kept + line_size(line) > self.max_bytes:
                break
            keep, kept = keep + 1, kept + line_size(line)
        self.drop("full", len(chunk) - keep, "newest")
        return chunk[:keep], kept

    def drop(self, reason: str, count: int, which: str) -> None:
        self.stats.dropped[reason] += count
        if reason == "full" and not self._full:
            log.error(_FULL, self.name, self.max_lines, self.max_bytes, which)
            self._full = True

    def levels_changed(self) -> None:
        """End the overflow episode once the buffer is below 90 % of both limits."""
        s = self.stats
        if self._full and s.depth < 0.9 * self.max_lines and s.bytes < 0.9 * self.max_bytes:
            log.info("Buffer %s is below 90 %% of its limits again.", self.name)
            self._full = False
