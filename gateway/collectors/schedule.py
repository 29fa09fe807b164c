"""Fixed-rate schedules that never drift and never overlap themselves.

The n-th scan is due at `start + n * interval`, whatever the previous scans took. When a scan
finishes after its next due time, the missed slots are skipped and counted as late scans; they
are not queued up to run back to back.

`PhasedRate` runs once at once, then on the wall-clock grid `k * interval + phase`: each job
gets its own phase (`phases`), so a hundred jobs at one rate are not all due at the same
instant, queued on one event loop, the last served late at every cycle.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import Iterable
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


@dataclass(slots=True)
class PhasedRate(FixedRate):
    """Due at `next_due` (the start: the first run is prompt), then on the wall-clock grid
    `k * interval + phase_ns`, fixed rate on monotonic time from there."""

    phase_ns: int = 0
    aligned: bool = False

    def after_run(self, clock: Clock) -> int:
        """Move to the next due time after a run that ended now; return slots skipped."""
        if self.aligned:
            return self.advance(clock.monotonic())
        self.aligned = True  # the prompt first run is off the grid: it is never late
        self.next_due = next_slot(clock, self.interval, self.phase_ns)
        return 0


def next_slot(clock: Clock, interval: float, phase_ns: int) -> float:
    """The monotonic time of the first slot after now of the wall-clock grid
    `k * interval + phase_ns` (wall time only places the grid, so the phase survives a
    restart; the schedule then runs on monotonic time and does not drift)."""
    interval_ns = max(1, round(interval * 1e9))
    wait_ns = (phase_ns - clock.now_ns()) % interval_ns
    return clock.monotonic() + (wait_ns or interval_ns) / 1e9


def phases(group: str, jobs: Iterable[tuple[str, float]]) -> dict[tuple[str, float], int]:
    """Phase (ns, in [0, interval)) of each job (name, interval) of one group (a connection):
    one offset per interval, hashed from the group and the interval, so that groups at the
    same rate are spread over it while the jobs of one group at one rate run together, back
    to back on their one link (one wake-up: a scan due alone costs a wake-up of its own,
    which at 1 s rates more than doubled the CPU per sample of both the gateway and a bare
    client). The same names give the same phases at every start."""
    result: dict[tuple[str, float], int] = {}
    for name, interval in set(jobs):
        interval_ns = max(1, round(interval * 1e9))
        result[name, interval] = int(_fraction(f"{group}@{interval!r}") * interval_ns)
    return result


def _fraction(key: str) -> float:
    """A stable hash of `key` in [0, 1) (Python's own hash() changes at every start)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


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
