"""The running gateway: collectors -> pipeline -> line protocol -> buffers -> forwarders -> sinks.

`Gateway.run()` runs until `stop()` (SIGINT/SIGTERM) or the duration, then stops the
collectors, flushes what the buffers hold within a deadline and closes the sinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from gateway.buffer.memory import MemoryBuffer
from gateway.clock import Clock, SystemClock
from gateway.collectors.modbus.collector import ModbusConnection
from gateway.config.compile import ConnectionPlan
from gateway.model import Sample
from gateway.pipeline import build_pipeline
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.base import Sink
from gateway.sinks.lineprotocol import Precision, encode_lines

log = logging.getLogger(__name__)


class Gateway:
    """One gateway instance over compiled connection plans and started sinks."""

    def __init__(
        self,
        connections: Sequence[ConnectionPlan],
        sinks: Sequence[Sink],
        precision: Precision = Precision.MS,
        batch_size: int = 5000,
        flush_interval: float = 1.0,
        clock: Clock | None = None,
        observers: Sequence[Callable[[list[Sample]], None]] = (),
    ) -> None:
        self.clock = clock or SystemClock()
        self.observers = list(observers)
        self.precision = precision
        self.pipeline = build_pipeline(
            tag for plan in connections for scan in plan.scans for tag in scan.tags
        )
        self.connections = [ModbusConnection(p, self.emit, self.clock) for p in connections]
        self.forwarders = [
            Forwarder(MemoryBuffer(name=s.name), s, batch_size, flush_interval, self.clock)
            for s in sinks
        ]
        self._stop = asyncio.Event()

    def emit(self, samples: list[Sample]) -> None:
        """Collector callback: filter, encode once, queue for every sink."""
        for observe in self.observers:
            observe(samples)
        lines = encode_lines(self.pipeline.apply(samples), self.precision)
        if not lines:
            return
        for forwarder in self.forwarders:
            forwarder.buffer.put(lines)
            forwarder.notify()

    def stop(self) -> None:
        """Ask run() to finish (safe from a signal handler)."""
        self._stop.set()

    async def run(self, duration: float | None = None, drain_timeout: float = 10.0) -> bool:
        """Run until stopped; return True when everything collected was written.

        Stopping: collectors finish the scan they are in (bounded by their timeouts), then the
        forwarders write what the buffers hold within `drain_timeout`, then sinks close.
        """
        for forwarder in self.forwarders:
            await forwarder.sink.start()
        collectors_stop = asyncio.Event()
        collectors = [
            asyncio.create_task(self._supervise(c.name, partial(c.run, collectors_stop)))
            for c in self.connections
        ]
        forwarders = [
            asyncio.create_task(self._supervise(f"sink {f.sink.name}", f.run))
            for f in self.forwarders
        ]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), duration)
        finally:
            collectors_stop.set()
            await self._finish(collectors, self._scan_deadline())
            await self._finish(forwarders, 0)
            flushed = [await f.flush(drain_timeout) for f in self.forwarders]
            for forwarder in self.forwarders:
                await forwarder.sink.close()
        log.info("Gateway stopped.")
        return all(flushed)

    def _scan_deadline(self) -> float:
        """Long enough for the slowest connection to finish one scan."""
        worst = 0.0
        for c in self.connections:
            plan = c.plan
            requests = max((len(s.requests) for s in plan.scans), default=0)
            worst = max(worst, requests * plan.timeout_s * (plan.retries + 1))
        return worst + 1.0

    @staticmethod
    async def _finish(tasks: list[asyncio.Task[None]], grace: float) -> None:
        """Let tasks end by themselves for `grace` seconds, then cancel the rest."""
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _supervise(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run a long-lived job; a bug that escapes it is logged and the job restarted."""
        while True:
            try:
                await job()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("Task %s failed; restarting it in 1 s.", name)
                await self.clock.sleep(1.0)

    def install_signal_handlers(self) -> None:
        """SIGINT and SIGTERM stop the gateway gracefully."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
