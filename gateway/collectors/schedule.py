"""Fixed-rate schedules that never drift and never overlap themselves.

The n-th scan is due at `start + n * interval`, whatever the previous scans took. When a scan
finishes after its next due time, the missed slots are skipped and counted as late scans; they
are not queued up to run back to back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(slots=True)
class FixedRate:
    """Due times of one periodic job, in monotonic seconds."""

    interval: float
    next_due: float

    def advance(self, now: float) -> int:
        """Move to the next due time after a run that ended at `now`; return slots skipped."""
        self.next_due += self.interval
        if now <= self.next_due:
            return 0
        skipped = math.ceil((now - self.next_due) / self.interval)
        self.next_due += skipped * self.interval
        return skipped
