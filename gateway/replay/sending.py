"""Write a replayed batch to every sink through the forwarder's `BatchWriter` (a 413 splits
the batch, lines refused for what they hold are isolated and handed back), retrying a
failing sink with the forwarder's backoff until `retry_for` seconds have passed without
success, then giving up with `SinkDown`. Nothing is acknowledged until every sink took the
batch, so giving up loses nothing: `--resume` sends the batch again."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence

from gateway.clock import Clock
from gateway.errors import GatewayError, ThrottledSinkError
from gateway.runtime.writer import BatchWriter, ForwarderStats
from gateway.sinks.base import Sink

__all__ = ["Delivery", "SinkDown"]

log = logging.getLogger("gateway.replay")


class SinkDown(GatewayError):
    """A sink kept failing for the whole retry period."""


class Delivery:
    """The sinks of a replay, each with its own writer (what it learnt of the sink stays)."""

    def __init__(
        self,
        sinks: Sequence[Sink],
        clock: Clock,
        retry_for: float = 120.0,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.sinks = list(sinks)
        self.clock = clock
        self.retry_for = retry_for
        self.backoff = backoff
        self.writers = [BatchWriter(s, ForwarderStats(), max_batch=1 << 30) for s in self.sinks]
        self.retries = 0

    async def start(self) -> None:
        for sink in self.sinks:
            await sink.start()

    async def close(self) -> None:
        for sink in self.sinks:
            await sink.close()

    async def send(self, lines: Sequence[str]) -> list[tuple[str, str, str]]:
        """Write `lines` to every sink; the lines a sink refused, as (sink, line, reason)."""
        refused: list[tuple[str, str, str]] = []
        for writer in self.writers:
            done = 0
            while done < len(lines):  # after a 413, at most what the sink took (max_batch)
                chunk = lines[done : done + writer.max_batch]
                refused += await self._send_to(writer, chunk)
                done += len(chunk)
        return refused

    async def _send_to(
        self, writer: BatchWriter, lines: Sequence[str]
    ) -> list[tuple[str, str, str]]:
        name = writer.sink.name
        refused: list[tuple[str, str, str]] = []
        rest, delay, failing_since = lines, self.backoff[0], None
        while True:
            try:
                await writer.write(rest)
            except Exception as exc:  # every failure keeps the lines; the error says why
                refused += [(name, line, reason) for line, reason in writer.rejects]
                rest = rest[writer.done :]
                now = self.clock.monotonic()
                if failing_since is None:
                    failing_since = now
                    log.warning(
                        "Sink %s write failed: %s; retrying for up to %g s.",
                        name,
                        exc,
                        self.retry_for,
                    )
                left = failing_since + self.retry_for - now
                if left <= 0:
                    raise SinkDown(f"sink {name} failed for {self.retry_for:g} s: {exc}") from None
                pause = delay * random.uniform(0.8, 1.2)
                if isinstance(exc, ThrottledSinkError) and exc.retry_after:
                    pause = exc.retry_after
                delay = min(self.backoff[1], delay * 2)
                self.retries += 1
                await self.clock.sleep(min(pause, left))
                continue
            refused += [(name, line, reason) for line, reason in writer.rejects]
            if failing_since is not None:
                log.info("Sink %s is accepting writes again.", name)
            return refused
