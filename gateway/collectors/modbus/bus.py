"""Modbus bus collector: many devices on one serial line or RTU-over-TCP endpoint.

A bus carries one exchange at a time, so the scans that are due take turns one request
each (round robin over the scans in progress, whatever their device and rate): a device
with many requests, or a slow rate with many tags, cannot hold the line while the others
wait. Each scan still emits its batch when its own requests are done and keeps its fixed-rate
schedule and its late-scan count. Each request waits its own device's timeout and retries;
the link keeps the inter-frame silence and the device's pause (buslink.py).

A unit that does not answer costs one timeout budget per scan: after its first request that
got no answer (after its retries; nothing heard: a spoiled answer is line noise, not a silent
unit) the rest of that scan is BAD `not read: the device did not answer` without being
sent, and after `demote_after` such scans the device is demoted (devicestate.py) so it
stops costing the healthy units their bus time. Unit 0 (broadcast)
is never read: nobody answers a broadcast.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from pymodbus.exceptions import ModbusException

from gateway.clock import Clock
from gateway.collectors.base import Emit
from gateway.collectors.cancels import raise_if_cancelled
from gateway.collectors.modbus.busframes import FUNCTIONS
from gateway.collectors.modbus.buslink import BusLink, NoAnswer
from gateway.collectors.modbus.collector import _READ, ILLEGAL_ADDRESS, ModbusConnection
from gateway.collectors.modbus.compile import ConnectionPlan, ModbusTagPlan, ScanPlan
from gateway.collectors.modbus.extract import failed
from gateway.collectors.modbus.link import Link
from gateway.collectors.modbus.planner import ReadRequest, reads_at_most, split_refused
from gateway.collectors.modbus.scanstate import Outcome, ScanTally
from gateway.collectors.schedule import PhasedRate, Stop, phases, sleep_or_stop
from gateway.model import Batch

NOT_ANSWERED = "not read: the device did not answer"
BROADCAST = "not read: unit 0 is the broadcast address (a read gets no answer)"


@dataclass
class ScanRun:
    """One scan in progress on the bus: what is left to send and what it came to so far."""

    scan: ScanPlan
    began: float
    todo: deque[ReadRequest[ModbusTagPlan]]
    batch: Batch = field(default_factory=Batch)
    tally: ScanTally = field(default_factory=ScanTally)
    reason: str = ""  # set when the rest of `todo` is left unread
    counted: bool = True  # False for a scan skipped without I/O (demoted, broadcast)

    @property
    def done(self) -> bool:
        return not self.todo or bool(self.reason)


class ModbusBus(ModbusConnection):
    """Polls every device on one bus (a `Collector`): one link, one exchange at a time."""

    def __init__(
        self,
        plan: ConnectionPlan,
        emit: Emit,
        clock: Clock | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        # each device's timing (the same on all its scans)
        self._timing = {s.device: (s.timeout_s, s.retries, s.pause_s) for s in plan.scans}
        super().__init__(plan, emit, clock, backoff)

    def _make_link(self) -> Link:
        self.bus = BusLink(
            self.plan.endpoint,
            timeout=self.plan.timeout_s,
            name=self.name,
            on_closed=lambda: self._lost(self.bus.closed_reason),
        )
        return self.bus

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Scan on the fixed schedules until `stop` is set (the scans in progress complete)
        or the task is cancelled; the due scans take turns, one request each."""
        stop = stop or Stop()
        start = self.clock.monotonic()
        phase = phases(self.name, ((s.device, s.interval_s) for s in self.plan.scans))
        waiting = [
            (PhasedRate(s.interval_s, start, phase[s.device, s.interval_s]), s)
            for s in self.plan.scans
        ]
        turns: deque[tuple[PhasedRate, ScanRun]] = deque()
        try:
            while turns or not stop.is_set():
                raise_if_cancelled()  # a cancel pymodbus dropped as an answer came
                now = self.clock.monotonic()
                if not stop.is_set():
                    for item in [w for w in waiting if w[0].next_due <= now]:
                        waiting.remove(item)
                        turns.append((item[0], self._begin(item[1])))
                if not turns:
                    due = min(w[0].next_due for w in waiting) - now
                    if await sleep_or_stop(self.clock, due, stop):
                        break
                    continue
                schedule, run = turns.popleft()
                if not run.done:
                    async with self.lock:
                        if await self._ensure_connected():
                            await self._step(run)
                        else:
                            run.reason = f"not connected: {self._last_error}"
                if not run.done:
                    turns.append((schedule, run))
                    continue
                await self.emit(self._finish(run))
                self.devices[run.scan.device].late_scans += schedule.after_run(self.clock)
                waiting.append((schedule, run.scan))
                await asyncio.sleep(0)  # let the others run between back-to-back turns
        finally:
            self.close()

    def longest_scan_s(self) -> float:
        """The longest the scans in progress can take to complete: on a bus they take turns,
        so every scan's requests count, each with its own device's budget."""
        total = self.plan.timeout_s + 1.0 + self.bus.drain_s  # connecting, then quiet
        drain = self.bus.drain_s
        for scan in self.plan.scans:
            timeout, retries, pause = self._timing[scan.device]
            for r in self._requests[id(scan)]:
                # a try: a resync read and the read, each its timeout and wire time
                wire = self.bus.wire_s(FUNCTIONS[_READ[r.space]], r.count)
                per_request = (2 * (timeout + wire) + drain) * (retries + 1) + pause
                total += reads_at_most(r) * per_request
        return total

    async def _read_requests(
        self,
        scan: ScanPlan,
        requests: list[ReadRequest[ModbusTagPlan]],
        began: float,
        batch: Batch,
    ) -> None:
        """One scan alone (`gateway once`, `scan`): its requests in a row."""
        run = ScanRun(scan, began, deque(requests), batch)
        if scan.unit == 0:
            run.reason = BROADCAST
        while not run.done:
            await self._step(run)
        self._close_run(run)

    def _begin(self, scan: ScanPlan) -> ScanRun:
        """A scan that is due: its run, done at once when it sends nothing."""
        began = self.clock.monotonic()
        run = ScanRun(scan, began, deque(self._requests[id(scan)]))
        if self.health[scan.device].demoted(began):
            self._skip_demoted(scan, run.batch)
            run.todo.clear()
            run.counted = False
        elif scan.unit == 0:
            run.reason = BROADCAST
            run.counted = False
        return run

    async def _step(self, run: ScanRun) -> None:
        """Send the run's next request (the caller holds the lock, the link is up)."""
        scan, request = run.scan, run.todo.popleft()
        result, outcome, code = await self._read(request, scan.unit, scan.device, run.batch)
        if code == ILLEGAL_ADDRESS and (pieces := split_refused(request)) != [request]:
            self._split(scan.device, request, pieces)
            run.todo.extendleft(reversed(pieces))
            return
        if result is not None:
            run.batch.add(result)
        run.tally.add(request, outcome, code, result or [])
        if outcome is Outcome.LINK_LOST:
            run.reason = f"not connected: {self._last_error}"
        elif outcome is Outcome.SILENT:
            run.reason = NOT_ANSWERED  # one timeout budget per scan, not one per request

    def _finish(self, run: ScanRun) -> Batch:
        """A run whose requests are all read or left unread: its batch, accounted."""
        if run.counted:
            self._close_run(run)
            self._count_scan(run.scan, run.began)
        elif run.reason:
            now = self.clock.now_ns()
            for rest in run.todo:
                run.batch.add(failed(rest, now, run.reason))
        return run.batch

    def _close_run(self, run: ScanRun) -> None:
        now = self.clock.now_ns()
        for rest in run.todo:
            run.batch.add(failed(rest, now, run.reason or "not read"))
        if run.counted:
            self._requests[id(run.scan)][:] = run.tally.next_order(run.todo)
            self._scan_done(run.scan, run.tally)

    def _exchange(
        self, request: ReadRequest[ModbusTagPlan], unit: int, device: str
    ) -> Awaitable[Any]:
        timeout, retries, pause = self._timing[device]
        return self.bus.read(
            _READ[request.space],
            request.start,
            request.count,
            unit,
            timeout=timeout,
            retries=retries,
            pause=pause,
        )

    def _no_answer(self, exc: ModbusException, device: str) -> tuple[str, bool]:
        if isinstance(exc, NoAnswer):  # bytes heard: line noise, not a silent unit
            return exc.reason, not exc.heard
        return f"no response within {self._timing[device][0]:g}s", True
