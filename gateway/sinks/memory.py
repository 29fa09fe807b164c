"""An in-memory sink for tests: keeps every line, lets tests await data and inject failures."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from gateway.sinks.lineprotocol import parse_line

__all__ = ["MemorySink"]


class MemorySink:
    """Collects written lines in `lines`.

    `fail_next` is a queue of exceptions: each write() pops the first one and raises it instead
    of storing anything, so tests can script failures (e.g. ``[RetryableSinkError("down")]``).
    `writes` counts write() calls, failed ones included.
    """

    def __init__(self, name: str = "memory") -> None:
        self.name = name
        self.lines: list[str] = []
        self.fail_next: list[Exception] = []
        self.writes = 0
        self.started = False
        self.closed = False
        self._changed = asyncio.Event()

    async def start(self) -> None:
        self.started = True

    async def write(self, lines: Sequence[str]) -> None:
        self.writes += 1
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.lines.extend(lines)
        self._changed.set()

    async def close(self) -> None:
        self.closed = True

    async def wait_for(self, predicate: Callable[[list[str]], bool], timeout: float) -> None:
        """Wait until `predicate(self.lines)` holds; TimeoutError with the lines seen if not."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self.lines):
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"{self.name}: condition not met within {timeout}s; "
                    f"{len(self.lines)} lines: {self.lines[-20:]!r}"
                )
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                continue

    def parsed(self) -> list[tuple[str, dict[str, str], dict[str, object], int]]:
        """Every stored line parsed with `parse_line`."""
        return [parse_line(line) for line in self.lines]

    def fields(self, measurement: str | None = None) -> list[dict[str, object]]:
        """The field dicts of the stored lines, optionally of one measurement only."""
        return [f for m, _, f, _ in self.parsed() if measurement is None or m == measurement]
