"""Forwarder: buffer -> sink. Owns batching, retry and acknowledgement.

A batch leaves the buffer only after the sink accepted it. Retryable errors back off
exponentially with jitter; a throttled sink is left alone for at least its Retry-After; a batch
too large for the server is split in halves; lines the server rejects (400/422) are isolated by
bisection, counted and set aside (never retried forever), and the rest are written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence

from gateway.buffer.base import Buffer
from gateway.clock import Clock, SystemClock
from gateway.errors import (
    PayloadTooLargeError,
    RejectedSinkError,
    RetryableSinkError,
    ThrottledSinkError,
)
from gateway.sinks.base import Sink

log = logging.getLogger(__name__)


class Forwarder:
    """Moves batches from one buffer to one sink."""

    def __init__(
        self,
        buffer: Buffer,
        sink: Sink,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        clock: Clock | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.buffer = buffer
        self.sink = sink
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.clock = clock or SystemClock()
        self.backoff_min, self.backoff_max = backoff
        self.wakeup = asyncio.Event()
        self.written = 0
        self.retries = 0
        self.rejected: list[str] = []
        self.failing = False

    def notify(self) -> None:
        """Called after lines were queued: wake up early when a full batch is waiting."""
        if self.buffer.depth >= self.batch_size:
            self.wakeup.set()

    async def run(self) -> None:
        """Forward until cancelled."""
        delay = self.backoff_min
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), self.flush_interval)
            self.wakeup.clear()
            while (batch := self.buffer.begin(self.batch_size)) is not None:
                wait = await self._deliver(batch.lines)
                if wait is None:
                    self.buffer.commit(batch)
                    delay = self.backoff_min
                    continue
                pause = wait if wait > 0 else self._jitter(delay)
                delay = min(self.backoff_max, delay * 2)
                await self.clock.sleep(pause)
                break

    async def flush(self, timeout: float) -> bool:
        """Send everything queued, giving up after `timeout` seconds; True when empty."""
        try:
            async with asyncio.timeout(timeout):
                while (batch := self.buffer.begin(self.batch_size)) is not None:
                    wait = await self._deliver(batch.lines)
                    if wait is not None:
                        await self.clock.sleep(max(wait, self.backoff_min))
                        continue
                    self.buffer.commit(batch)
        except TimeoutError:
            log.error(
                "Sink %s: %d lines could not be written before the shutdown deadline.",
                self.sink.name,
                self.buffer.depth,
            )
            return False
        return True

    async def _deliver(self, lines: Sequence[str]) -> float | None:
        """Write lines; None when done, else seconds to wait (0: use the backoff)."""
        try:
            await self._write(lines)
        except ThrottledSinkError as exc:
            self._failed(f"throttled ({exc})")
            return exc.retry_after or 0.0
        except RetryableSinkError as exc:
            self._failed(str(exc))
            return 0.0
        self.written += len(lines)
        if self.failing:
            log.info("Sink %s is accepting writes again.", self.sink.name)
            self.failing = False
        return None

    async def _write(self, lines: Sequence[str]) -> None:
        """Write, splitting on 413 and isolating rejected lines on 400/422."""
        try:
            await self.sink.write(lines)
        except PayloadTooLargeError:
            if len(lines) == 1:
                self._reject(lines, "line too large for the server")
                return
            await self._halves(lines)
        except RejectedSinkError as exc:
            if len(lines) == 1:
                self._reject(lines, str(exc))
                return
            await self._halves(lines)

    async def _halves(self, lines: Sequence[str]) -> None:
        middle = len(lines) // 2
        await self._write(lines[:middle])
        await self._write(lines[middle:])

    def _reject(self, lines: Sequence[str], reason: str) -> None:
        log.error("Sink %s rejected a line (%s); set aside: %s", self.sink.name, reason, lines[0])
        self.rejected.extend(lines)

    def _failed(self, reason: str) -> None:
        self.retries += 1
        if not self.failing:
            log.warning(
                "Sink %s write failed: %s; keeping the data and retrying.", self.sink.name, reason
            )
            self.failing = True

    @staticmethod
    def _jitter(seconds: float) -> float:
        return seconds * random.uniform(0.8, 1.2)
