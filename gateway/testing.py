"""Test helpers shipped with the package (for our tests, the simulators and users' own tests)."""

from __future__ import annotations

import asyncio


class FakeClock:
    """A clock tests drive by hand; sleep() advances time at once and records the request."""

    def __init__(self, start_ns: int = 1_700_000_000_000_000_000) -> None:
        self.wall_ns = start_ns
        self.mono = 0.0
        self.sleeps: list[float] = []

    def now_ns(self) -> int:
        return self.wall_ns

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self.mono += seconds
        self.wall_ns += int(seconds * 1e9)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
