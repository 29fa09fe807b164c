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
    ) -> None:
        self.clock = clock or SystemClock()
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
        """Run until stopped; return True when everything collected was written."""
        for forwarder in self.forwarders:
            await forwarder.sink.start()
        jobs = [(c.name, c.run) for c in self.connections]
        jobs += [(f"sink {f.sink.name}", f.run) for f in self.forwarders]
        tasks = [asyncio.create_task(self._supervise(name, job), name=name) for name, job in jobs]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), duration)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            flushed = [await f.flush(drain_timeout) for f in self.forwarders]
            for forwarder in self.forwarders:
                await forwarder.sink.close()
        log.info("Gateway stopped.")
        return all(flushed)

    async def _supervise(self, name: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run a long-lived job; a bug that escapes it is logged and the job restarted."""
        while True:
            try:
                await job()
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
