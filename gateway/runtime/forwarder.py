"""Forwarder: buffer -> sink. Owns batching, retry and acknowledgement.

A batch leaves the buffer only after the sink accepted it. Retryable errors back off
exponentially with jitter; a throttled sink is left alone for at least its Retry-After; a batch
too large for the server (413) is split in halves, and later batches are no larger than the
half that was tried (remembered per sink). A 400/422 is either about the request (a missing
org, a proxy) or about lines (writer.py tells which): about the request, the lines are kept
and retried with backoff and the sink counts as down; about lines, the refused lines are
isolated by bisection and written to the dead-letter file (never retried forever), and the
rest are written. A write whose lines were all refused is not a healthy one. Batches go out
back to back while a backlog remains, so after an outage the backlog drains at the sink's
speed while new data queues behind it.

When to write (latency against batching): a commit wakes the forwarder at once when a full
batch waits, or when no write started in the last half `flush_interval`; otherwise, and for
anything else, it looks every `flush_interval`. An idle forwarder so sends a commit's lines
right after it; a busy one sends what was committed meanwhile as its next batch, so batches
grow with the load, and commits more frequent than that (`commit_interval: 0`, every scan)
do not become one small write each.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine, Sequence
from typing import Any

from gateway.buffer.base import Batch, Buffer
from gateway.clock import Clock, SystemClock
from gateway.errors import RetryableSinkError, ThrottledSinkError
from gateway.runtime.deadletter import DeadLetters
from gateway.runtime.writer import BatchWriter, ForwarderStats, RequestRefused
from gateway.sinks.base import Sink

__all__ = ["EMPTY", "Forwarder", "ForwarderStats"]

log = logging.getLogger(__name__)

EMPTY = -1.0  # _attempt(): nothing to send
_REQUEST = (
    "Sink %s refuses the request itself, whatever the lines (%s); keeping the data and "
    "retrying. Check the org, bucket and token, and any proxy in front of the database."
)


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
        self.writer = BatchWriter(sink, self.stats, batch_size)
        self.wakeup = asyncio.Event()
        self._unacked: tuple[Batch, int | None] | None = None  # written, ack failed
        self._buffer_failing = False
        self._write_began = -float("inf")  # clock.monotonic() when the last write started
        self.refusing = False  # the sink refuses the requests themselves (see writer.py)

    @property
    def max_batch(self) -> int:
        """Lines per batch: `batch_size`, or less after the sink answered 413."""
        return self.writer.max_batch

    def notify(self) -> None:
        """New lines were persisted: wake up now when a full batch waits, or when no write
        started in the last half flush_interval (see the module's docstring)."""
        recent = self.clock.monotonic() - self._write_began < self.flush_interval / 2
        depth = self.buffer.stats.depth
        if depth >= self.max_batch or (depth and not recent):
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
            batch = await self.buffer.begin(self.max_batch)
        except Exception as exc:  # the store itself failed: keep trying, log once
            self._buffer_trouble(f"reading failed: {exc}")
            return 0.0
        if batch is None:
            return EMPTY
        self._write_began = self.clock.monotonic()
        wait = await self._deliver(batch.lines)
        count = None if wait is None else self.writer.done
        if not await self._ack(batch, count):  # count 0: nothing written, the batch is released
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
        try:
            await self.writer.write(lines)
        except RequestRefused as exc:
            self._request_refused(str(exc))
            return 0.0
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
        self.refusing = False
        if self.writer.accepted:
            if self.stats.healthy is False:
                log.info("Sink %s is accepting writes again.", self.sink.name)
            self.stats.healthy = True
        else:  # every line was refused (and set aside, logged): not a healthy write
            self.stats.healthy = False
        return None

    def _request_refused(self, message: str) -> None:
        self.stats.retries += 1
        self.stats.last_error = message
        self.stats.healthy = False
        if not self.refusing:
            log.error(_REQUEST, self.sink.name, message)
            self.refusing = True

    async def _set_aside(self) -> None:
        """Dead-letter the lines the sink refused in this attempt; one log line per batch."""
        rejects, self.writer.rejects = self.writer.rejects, []
        if not rejects:
            return
        where = self.dead_letters.path or "nowhere (no dead-letter file)"
        log.error(
            "Sink %s refused %d lines (first: %s); they are moved to %s and not retried.",
            self.sink.name,
            len(rejects),
            rejects[0][1],
            where,
        )
        self.stats.rejected += len(rejects)
        self.stats.last_error = rejects[-1][1]
        for line, reason in rejects:
            await self.dead_letters.add([line], reason)

    def _failed(self, reason: str) -> None:
        self.stats.retries += 1
        self.stats.last_error = reason
        if self.stats.healthy is not False or self.refusing:
            self.refusing = False
            log.warning(
                "Sink %s write failed: %s; keeping the data and retrying.", self.sink.name, reason
            )
            self.stats.healthy = False
