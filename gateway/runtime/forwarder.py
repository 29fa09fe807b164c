"""Forwarder: buffer -> sink. Owns batching, retry and acknowledgement.

A batch leaves the buffer only after the sink accepted it. Retryable errors back off
exponentially with jitter; a throttled sink is left alone for at least its Retry-After; a batch
too large for the server is split in halves; lines the server rejects (400/422) are isolated by
bisection and written to the dead-letter file (never retried forever), and the rest are
written. Batches go out back to back while a backlog remains, so after an outage the backlog
drains at the sink's speed while new data queues behind it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.buffer.base import Batch, Buffer
from gateway.clock import Clock, SystemClock
from gateway.errors import (
    PayloadTooLargeError,
    RejectedSinkError,
    RetryableSinkError,
    ThrottledSinkError,
)
from gateway.runtime.deadletter import DeadLetters
from gateway.sinks.base import Sink

log = logging.getLogger(__name__)


@dataclass
class ForwarderStats:
    """Counters of one sink (exported as metrics)."""

    written: int = 0  # lines the sink accepted
    retries: int = 0  # failed write attempts that will be retried
    rejected: int = 0  # lines refused by the sink and dead-lettered
    healthy: bool | None = None  # the last write succeeded (None: nothing written yet)
    last_error: str = ""


EMPTY = -1.0  # _attempt(): nothing to send


async def _first(*jobs: Coroutine[Any, Any, Any], timeout: float | None = None) -> None:
    """Wait until the first of `jobs` finishes (or `timeout`), then cancel the others."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self.buffer = buffer
        self.sink = sink
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.clock = clock or SystemClock()
        self.backoff_min, self.backoff_max = backoff
        self.dead_letters = dead_letters or DeadLetters(None)
        self.stats = ForwarderStats()
        self.wakeup = asyncio.Event()
        self._done = 0  # lines of the current batch already written or dead-lettered
        self._rejects: list[tuple[str, str]] = []  # refused in the current attempt
        self._unacked: tuple[Batch, int | None] | None = None  # written, ack failed
        self._buffer_failing = False

    def notify(self) -> None:
        """New lines were persisted: wake up early when a full batch is waiting."""
        if self.buffer.stats.depth >= self.batch_size:
            self.wakeup.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Forward until `stop` is set (a write in progress completes first) or cancelled."""
        stop = stop or asyncio.Event()
        delay = self.backoff_min
        while not stop.is_set():
            await _first(self.wakeup.wait(), stop.wait(), timeout=self.flush_interval)
            self.wakeup.clear()
            while not stop.is_set() and (wait := await self._attempt()) is None:
                delay = self.backoff_min
            if stop.is_set() or wait is None or wait == EMPTY:
                continue
            pause = wait if wait > 0 else delay * random.uniform(0.8, 1.2)
            delay = min(self.backoff_max, delay * 2)
            await _first(self.clock.sleep(pause), stop.wait())

    async def flush(self, deadline: float) -> bool:
        """Send what is persisted until it is empty or the loop time reaches `deadline`; a
        write already started is never cut (it is bounded by the sink's own timeout). True
        when the buffer is empty."""
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            wait = await self._attempt()
            if wait == EMPTY:
                return True
            if wait is not None:
                await _first(
                    self.clock.sleep(max(wait, self.backoff_min)),
                    asyncio.sleep(max(0.0, deadline - loop.time())),
                )
        try:
            return await self.buffer.begin(1) is None
        except Exception:  # the store fails: report "not empty" and let the caller close
            return False

    async def _attempt(self) -> float | None:
        """Send the oldest batch. None: sent and acknowledged; EMPTY: nothing to send;
        else it failed: wait that long (0: use the backoff). Lines already written (or
        dead-lettered) before a failure are acknowledged, so they are never sent twice; an
        acknowledgement that fails is retried before anything else is sent."""
        if self._unacked is not None and not await self._ack(*self._unacked):
            return 0.0
        try:
            batch = await self.buffer.begin(self.batch_size)
        except Exception as exc:  # the store itself failed: keep trying, log once
            self._buffer_trouble(f"reading failed: {exc}")
            return 0.0
        if batch is None:
            return EMPTY
        self._done = 0
        wait = await self._deliver(batch.lines)
        count = None if wait is None else self._done
        if count != 0 and not await self._ack(batch, count):
            return 0.0
        return wait

    async def _ack(self, batch: Batch, count: int | None) -> bool:
        try:
            await self.buffer.ack(batch, count)
        except Exception as exc:
            self._unacked = (batch, count)
            self._buffer_trouble(f"acknowledging failed: {exc}")
            return False
        self._unacked = None
        if self._buffer_failing:
            log.info("Buffer %s works again.", self.buffer.name)
            self._buffer_failing = False
        return True

    def _buffer_trouble(self, reason: str) -> None:
        if not self._buffer_failing:
            log.error(
                "Buffer %s: %s; retrying (nothing is resent meanwhile).", self.buffer.name, reason
            )
            self._buffer_failing = True

    async def _deliver(self, lines: Sequence[str]) -> float | None:
        """Write lines; None when done, else seconds to wait (0: use the backoff)."""
        self._rejects = []
        try:
            await self._write(lines)
        except ThrottledSinkError as exc:
            self._failed(f"throttled ({exc})")
            return exc.retry_after or 0.0
        except RetryableSinkError as exc:
            self._failed(str(exc))
            return 0.0
        except Exception as exc:  # a bug or an unexpected error of a sink: keep the data
            log.exception("Sink %s raised an unexpected error; retrying.", self.sink.name)
            self._failed(f"unexpected error: {exc!r}")
            return 0.0
        finally:
            await self._set_aside()
        if self.stats.healthy is False:
            log.info("Sink %s is accepting writes again.", self.sink.name)
        self.stats.healthy = True
        return None

    async def _write(self, lines: Sequence[str]) -> None:
        """Write, splitting on 413 and isolating rejected lines on 400/422."""
        try:
            await self.sink.write(lines)
        except (PayloadTooLargeError, RejectedSinkError) as exc:
            if len(lines) == 1:
                await self._reject(lines, str(exc))
                self._done += 1
                return
            middle = len(lines) // 2
            await self._write(lines[:middle])
            await self._write(lines[middle:])
            return
        self.stats.written += len(lines)
        self._done += len(lines)

    async def _reject(self, lines: Sequence[str], reason: str) -> None:
        self._rejects.extend((line, reason) for line in lines)

    async def _set_aside(self) -> None:
        """Dead-letter the lines the sink refused in this attempt; one log line per batch."""
        if not self._rejects:
            return
        where = self.dead_letters.path or "nowhere (no dead-letter file)"
        log.error(
            "Sink %s refused %d lines (first: %s); they are moved to %s and not retried.",
            self.sink.name,
            len(self._rejects),
            self._rejects[0][1],
            where,
        )
        self.stats.rejected += len(self._rejects)
        for line, reason in self._rejects:
            await self.dead_letters.add([line], reason)
        self._rejects = []

    def _failed(self, reason: str) -> None:
        self.stats.retries += 1
        self.stats.last_error = reason
        if self.stats.healthy is not False:
            log.warning(
                "Sink %s write failed: %s; keeping the data and retrying.", self.sink.name, reason
            )
            self.stats.healthy = False
