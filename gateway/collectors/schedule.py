"""Fixed-rate schedules that never drift and never overlap themselves.

The n-th scan is due at `start + n * interval`, whatever the previous scans took. When a scan
finishes after its next due time, the missed slots are skipped and counted as late scans; they
are not queued up to run back to back.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from gateway.clock import Clock, SystemClock


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


class Stop(asyncio.Event):
    """The stop event of collectors: `sleep_or_stop` waits on it with one timer and one
    future per sleep (a plain Event costs two tasks and an `asyncio.wait` per scan)."""

    def __init__(self) -> None:
        super().__init__()
        self._sleepers: set[asyncio.Future[None]] = set()

    def set(self) -> None:
        super().set()
        for sleeper in self._sleepers:
            if not sleeper.done():
                sleeper.set_result(None)


def _wake(sleeper: asyncio.Future[None]) -> None:
    if not sleeper.done():
        sleeper.set_result(None)


async def sleep_or_stop(clock: Clock, seconds: float, stop: asyncio.Event) -> bool:
    """Sleep on the clock; True when `stop` was set first."""
    if stop.is_set():
        return True
    if isinstance(stop, Stop) and type(clock) is SystemClock:  # the loop's time is its time
        if seconds <= 0:
            await asyncio.sleep(0)  # let the others run between back-to-back scans
            return stop.is_set()
        loop = asyncio.get_running_loop()
        sleeper: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, _wake, sleeper)
        stop._sleepers.add(sleeper)
        try:
            await sleeper
        finally:
            timer.cancel()
            stop._sleepers.discard(sleeper)
        return stop.is_set()
    sleeper_task = asyncio.ensure_future(clock.sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((sleeper_task, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper_task.cancel()
        stopper.cancel()
    return stop.is_set()
