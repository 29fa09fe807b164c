"""The running gateway: collectors -> pipeline -> line protocol -> buffers -> forwarders -> sinks.

Every line goes through each sink's buffer. New lines are committed to the buffers every
`commit_interval` seconds (0: after every scan, before the next one starts); forwarders send
what is committed and remove it only when the sink acknowledged it. `run()` ends on `stop()`
(SIGINT/SIGTERM) or after the duration: the collectors finish the scan they are in, what is in
flight is committed, the forwarders write for at most `drain_timeout` seconds, and what is
still unwritten stays in the (durable) buffers for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from functools import partial

from gateway.clock import Clock, SystemClock
from gateway.collectors.base import Collector, ConnectionPlan
from gateway.collectors.registry import build_collector
from gateway.collectors.schedule import Stop
from gateway.errors import GatewayError
from gateway.model import Batch, Sample
from gateway.pipeline import build_pipeline
from gateway.runtime.forwarder import Forwarder
from gateway.sinks.lineprotocol import Precision, encode_lines, stamp

log = logging.getLogger(__name__)

Observer = Callable[[list[Sample]], None]
EXIT_INTERRUPTED = 130  # forced exit on a second signal (128 + SIGINT)
WRITE_GRACE = 60.0  # a write started before the drain deadline may finish (sinks time out)


class Gateway:
    """One gateway instance over compiled connection plans and assembled outputs."""

    def __init__(
        self,
        connections: Sequence[ConnectionPlan],
        forwarders: Sequence[Forwarder],
        precision: Precision = Precision.MS,
        commit_interval: float = 1.0,
        clock: Clock | None = None,
        observers: Sequence[Observer] = (),
    ) -> None:
        self.clock = clock or SystemClock()
        self.precision = precision
        self.commit_interval = commit_interval
        self.observers = list(observers)
        self.pipeline = build_pipeline(
            (tag for plan in connections for tag in plan.tag_plans()), self.clock
        )
        #: one collector per connection, of whatever protocol (built by the registry)
        self.connections: list[Collector] = [
            build_collector(p, self.emit, self.clock) for p in connections
        ]
        self.forwarders = list(forwarders)
        self.background: list[Callable[[], Awaitable[None]]] = []  # more jobs (health, stats)
        self._stop = asyncio.Event()

    async def emit(self, batch: list[Sample] | Batch) -> None:
        """Collector callback: filter, encode once, queue for every sink. Lines a collector
        encoded itself (`Batch.encoded`) only get their timestamps; observers get their
        readings as Samples, built only when there are observers."""
        samples = batch if isinstance(batch, list) else batch.samples
        kept = self.pipeline.apply(samples)  # scales and qualifies `samples` in place
        if self.observers:
            readings = samples if isinstance(batch, list) else batch.readings()
            for observe in self.observers:
                observe(readings)  # every reading in engineering units, deadband or not
        lines = encode_lines(kept, self.precision)
        if not isinstance(batch, list) and batch.encoded:
            self.pipeline.count_encoded(batch.count - len(samples))
            lines += stamp(batch.encoded, self.precision)
        self.put(lines)
        if self.commit_interval == 0:
            await self.commit()

    def put(self, lines: list[str]) -> None:
        """Queue lines for every sink (also used for the gateway's own statistics)."""
        if lines:
            for forwarder in self.forwarders:
                forwarder.buffer.put(lines)

    async def commit(self) -> None:
        """Make every queued line durable and wake the forwarders."""
        for forwarder in self.forwarders:
            await forwarder.buffer.persist()
            forwarder.notify()

    def stop(self) -> None:
        """Ask run() to finish (safe from a signal handler)."""
        self._stop.set()

    async def run(self, duration: float | None = None, drain_timeout: float = 10.0) -> bool:
        """Run until stopped; True when nothing collected is left unwritten or at risk."""
        await self._open()
        collectors_stop = Stop()  # wakes the collectors' sleeps without a task per scan
        collectors = [
            asyncio.create_task(self._supervise(c.name, partial(c.run, collectors_stop)))
            for c in self.connections
        ]
        forwarders_stop = asyncio.Event()
        forwarders = [
            asyncio.create_task(
                self._supervise(f"sink {f.sink.name}", partial(f.run, forwarders_stop))
            )
            for f in self.forwarders
        ]
        others = [asyncio.create_task(self._supervise("committer", self._commit_loop))]
        others += [
            asyncio.create_task(self._supervise("background", job)) for job in self.background
        ]
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), duration)
        finally:
            collectors_stop.set()
            await self._finish(collectors, self._scan_deadline())
            deadline = asyncio.get_running_loop().time() + drain_timeout
            forwarders_stop.set()  # a write in progress completes; it is never cut and resent
            await self._finish(forwarders, drain_timeout + WRITE_GRACE)
            await self._finish(others, 0)
            ok = await self._drain(deadline)
        log.info("Gateway stopped.")
        return ok

    async def _open(self) -> None:
        """Start the sinks (a sink that cannot start is an error), then open the buffers."""
        for forwarder in self.forwarders:
            await forwarder.sink.start()
        for forwarder in self.forwarders:
            try:
                await forwarder.buffer.open()
            except (OSError, RuntimeError, sqlite3.Error) as exc:
                for started in self.forwarders:
                    await started.sink.close()
                    await started.buffer.close()
                raise GatewayError(f"buffer of sink {forwarder.sink.name}: {exc}") from None
            held = forwarder.buffer.stats.depth
            if held:
                log.info(
                    "Buffer %s holds %d lines from before; they are written first.",
                    forwarder.sink.name,
                    held,
                )

    async def _commit_loop(self) -> None:
        while True:
            await self.clock.sleep(self.commit_interval or 1.0)
            await self.commit()

    async def _drain(self, deadline: float) -> bool:
        """Commit, write what the buffers hold until `deadline` (all sinks at once), close.
        True when nothing is lost: everything written, or the rest kept in a durable buffer."""
        await self.commit()
        results = await asyncio.gather(
            *(f.flush(deadline) for f in self.forwarders), return_exceptions=True
        )
        flushed = [r is True for r in results]  # an exception counts as not flushed
        ok = True
        for forwarder, done in zip(self.forwarders, flushed, strict=True):
            buffer, name = forwarder.buffer, forwarder.sink.name
            left = buffer.stats.depth
            await forwarder.sink.close()
            try:
                await buffer.close()
            except Exception as exc:  # the store failed: what it did not save is lost
                log.error("Buffer of sink %s could not be closed cleanly: %s", name, exc)
                ok = False
            if buffer.unpersisted:
                log.error(
                    "Sink %s: %d lines could not be saved in the buffer and are lost.",
                    name,
                    buffer.unpersisted,
                )
                ok = False
            elif not done and buffer.durable:
                log.warning(
                    "Sink %s: %d lines not written yet; kept in the buffer for the next start.",
                    name,
                    left,
                )
            elif not done:
                log.error(
                    "Sink %s: %d lines could not be written and are lost (memory buffer).",
                    name,
                    left,
                )
                ok = False
        return ok

    def _scan_deadline(self) -> float:
        """Long enough for the slowest connection to finish one scan, connecting included."""
        return max((c.shutdown_grace_s() for c in self.connections), default=0.0) + 1.0

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
        """SIGINT and SIGTERM stop the gateway gracefully; a second one exits at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        if not self._stop.is_set():
            log.info(
                "Stopping: finishing scans, committing and writing what is buffered "
                "(a second signal exits at once)."
            )
            self.stop()
            return
        log.warning(
            "Second signal: exiting now. Committed data stays in the buffer; what was "
            "read since the last commit is lost."
        )
        os._exit(EXIT_INTERRUPTED)
