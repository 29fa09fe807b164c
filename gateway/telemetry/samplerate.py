"""Samples per second over a sliding window, for the live view.

A device sends its samples in bursts (a scan every 1 s, an OPC UA publish every 2 s), so the
count between two redraws jumps (25, 50, 0); the count over the last `window` seconds divided
by that span is steady. Until the window has filled, the span is the time since the start;
in the first `SETTLE` seconds there is no rate yet (one burst more or less would double it).
"""

from __future__ import annotations

from collections import deque

#: seconds the rate is averaged over
WINDOW = 10.0
#: seconds from the start without a rate
SETTLE = 5.0


class WindowRate:
    """Feed it (time, running total) pairs; it answers the rate over the last `window` s."""

    def __init__(self, start: float, window: float = WINDOW, settle: float = SETTLE) -> None:
        self.window = window
        self.start, self.settle = start, min(settle, window)
        self._marks: deque[tuple[float, int]] = deque([(start, 0)])
        self.span = 0.0  # seconds the latest rate is averaged over

    def update(self, now: float, total: int) -> float | None:
        """Record the running `total` at `now`; the rate over the window ending now (None
        while settling)."""
        self._marks.append((now, total))
        # keep the newest mark at or before the window's start: the span stays >= the window
        while len(self._marks) > 2 and self._marks[1][0] <= now - self.window:
            self._marks.popleft()
        if now - self.start < self.settle:
            return None
        then, before = self._marks[0]
        self.span = now - then
        return (total - before) / self.span
