"""Fixed-rate schedules that never drift and never overlap themselves.

The n-th scan is due at `start + n * interval`, whatever the previous scans took. When a scan
finishes after its next due time, the missed slots are skipped and counted as late scans; they
are not queued up to run back to back.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from gateway.clock import Clock


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


async def sleep_or_stop(clock: Clock, seconds: float, stop: asyncio.Event) -> bool:
    """Sleep on the clock; True when `stop` was set first."""
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        stopper.cancel()
    return stop.is_set()
