"""Test helpers shipped with the package (for our tests, the simulators and users' own tests)."""

from __future__ import annotations

import asyncio

from gateway.buffer.memory import MemoryBuffer
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.base import Sink


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


def memory_forwarders(*sinks: Sink, flush_interval: float = 0.05) -> list[Forwarder]:
    """One forwarder with a memory buffer per sink (for tests of the runtime)."""
    return [Forwarder(MemoryBuffer(name=s.name), s, flush_interval=flush_interval) for s in sinks]


def soon(seconds: float) -> float:
    """A deadline `seconds` from now on the running loop's clock (for Forwarder.flush)."""
    return asyncio.get_running_loop().time() + seconds
