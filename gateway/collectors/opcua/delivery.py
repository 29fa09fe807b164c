"""The queue between an OPC UA session and the pipeline, bounded in samples.

Notifications arrive in asyncua's callback, which cannot wait; the pipeline takes a batch in
microseconds per sample, so the queue only grows when the process cannot keep up at all. The
bound keeps memory finite then: a notification batch that finds the queue full is dropped and
counted (`dropped`, logged once), while polls wait for room (a late scan) and the BAD markers
of a gap are always queued. One task hands the batches to `emit` in order.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.collectors.base import ConnectionStats, Emit
from gateway.model import Sample

log = logging.getLogger(__name__)

#: samples waiting for the pipeline before notifications are dropped (10,000 items at 1 s:
#: 20 s of them)
MAX_PENDING = 200_000


class Delivery:
    def __init__(
        self,
        emit: Emit,
        name: str,
        limit: int | None = None,
        stats: ConnectionStats | None = None,
    ) -> None:
        self.emit = emit
        self.stats = stats
        self.name = name
        self.limit = MAX_PENDING if limit is None else limit
        self.pending = 0  # samples queued, not yet handed to the pipeline
        self.dropped = 0  # notification samples dropped at the bound
        self._queue: asyncio.Queue[list[Sample]] = asyncio.Queue()
        self._room = asyncio.Event()  # set while pending is under the limit
        self._room.set()

    async def run(self) -> None:
        """Hand queued samples to the pipeline, in order (until cancelled)."""
        while True:
            samples = await self._queue.get()
            try:
                if samples:
                    await self.emit(samples)
            except Exception:  # a failing emit must not stop the collector
                log.exception("OPC UA %s: delivering samples failed", self.name)
            finally:
                self.pending -= len(samples)
                if self.pending < self.limit:
                    self._room.set()
                self._queue.task_done()

    async def join(self) -> None:
        """Until everything queued was handed over."""
        await self._queue.join()

    async def room(self) -> None:
        """Until the queue is under its bound."""
        await self._room.wait()

    def put(self, samples: list[Sample]) -> None:
        """Queue samples that must not be dropped."""
        self._count(samples)
        self._queue.put_nowait(samples)

    def offer(self, samples: list[Sample]) -> None:
        """Queue a notification batch, or drop and count it while the queue is full."""
        if self.pending >= self.limit:
            if not self.dropped:
                log.error(  # data loss: an operator must act (a larger machine, fewer tags)
                    "OPC UA %s: the pipeline cannot keep up; notifications are dropped "
                    "(gateway_connection_dropped_samples_total)",
                    self.name,
                )
            self.dropped += len(samples)
            if self.stats is not None:
                self.stats.dropped_samples += len(samples)
            return
        self.put(samples)

    def _count(self, samples: list[Sample]) -> None:
        self.pending += len(samples)
        if self.pending >= self.limit:
            self._room.clear()
