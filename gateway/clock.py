"""Injectable clock: logic that is tested for timing never calls time or sleep directly."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time for timestamps, monotonic time and sleep for schedules."""

    def now_ns(self) -> int:
        """Wall-clock time in Unix nanoseconds (for sample timestamps)."""
        ...

    def monotonic(self) -> float:
        """Monotonic seconds (for schedules and intervals)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for `seconds` of this clock's time."""
        ...


class SystemClock:
    """The real clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))
