"""Modbus TCP collector: one task and one lock per connection.

Every scan (one device at one rate) runs on its own fixed-rate schedule inside the
connection's task, so scans of one connection never overlap and a slow or dead endpoint only
delays itself. Failures become BAD samples with a reason; connection loss is retried with
exponential backoff; a device that answers none of its requests scan after scan is demoted
(see devicestate.py) so that the other devices behind the same endpoint keep their
schedules. State changes are logged once (down at WARNING, back at INFO).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pymodbus.exceptions import ConnectionException, ModbusException

from gateway.clock import Clock, SystemClock
from gateway.collectors.base import ConnectionStats, DeviceStats, Emit, State
from gateway.collectors.cancels import raise_if_cancelled
from gateway.collectors.devicestate import DeviceHealth
from gateway.collectors.modbus.compile import ConnectionPlan, ModbusTagPlan, ScanPlan
from gateway.collectors.modbus.extract import exception_reason, failed
from gateway.collectors.modbus.link import CLOSED_BY_PEER, Link, ModbusLink
from gateway.collectors.modbus.planner import ReadRequest, reads_at_most, split_refused
from gateway.collectors.modbus.responsecache import ResponseCache
from gateway.collectors.modbus.responses import raw_registers
from gateway.collectors.modbus.scanstate import (
    Outcome,
    ScanTally,
    split_message,
    unit_hint_message,
)
from gateway.collectors.modbus.types import Space
from gateway.collectors.schedule import PhasedRate, Stop, phases, sleep_or_stop
from gateway.model import Batch, Sample

log = logging.getLogger(__name__)

ILLEGAL_ADDRESS = 2

_READ = {
    Space.COIL: "read_coils",
    Space.DISCRETE_INPUT: "read_discrete_inputs",
    Space.HOLDING_REGISTER: "read_holding_registers",
    Space.INPUT_REGISTER: "read_input_registers",
}


class ModbusConnection:
    """Polls every device behind one Modbus TCP endpoint (a `Collector`)."""

    protocol = "modbus"

    def __init__(
        self,
        plan: ConnectionPlan,
        emit: Emit,
        clock: Clock | None = None,
        backoff: tuple[float, float] = (0.5, 30.0),
    ) -> None:
        self.plan = plan
        self.emit = emit
        self.clock = clock or SystemClock()
        self.name = str(plan.endpoint)
        self.lock = asyncio.Lock()
        self.stats = ConnectionStats()
        self.devices = {d: DeviceStats() for d in plan.devices}
        self.health = {s.device: DeviceHealth(s.demote_after, s.demote_max_s) for s in plan.scans}
        self._backoff_min, self._backoff_max = backoff
        self._delay = self._backoff_min
        self._retry_at = 0.0
        self._last_error = "not connected yet"
        self._down_logged = False
        self._retrying = True  # False for `scan_all`: `gateway once` never tries again
        self._all_devices = set(plan.devices)
        self._silent: set[str] = set()  # devices that failed to answer since the last answer
        self._unanswered_scans = 0  # scans in a row in which no active device answered
        self._hinted: set[str] = set()  # devices told that their unit_id may be wrong
        #: called with each request answered and its values (`gateway once --raw`)
        self.answered: Callable[[ReadRequest[ModbusTagPlan], Sequence[int | bool]], None] | None
        self.answered = None
        # the requests each scan sends, in the order of the next scan: merged reads refused
        # for their gap are replaced by their pieces, requests that got no answer go last
        self._requests = {id(s): list(s.requests) for s in plan.scans}
        self._encoder = ResponseCache(plan.scans)  # fast path and last lines per request
        self.link = self._make_link()
        self.client = self.link.client

    def _make_link(self) -> Link:
        """The link to the endpoint (a bus collector makes its own)."""
        return ModbusLink(
            self.plan.endpoint.host,
            self.plan.endpoint.port,
            timeout=self.plan.timeout_s,
            retries=self.plan.retries,
            name=self.name,
            on_closed=lambda: self._lost(CLOSED_BY_PEER),
        )

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Scan on the fixed schedules until `stop` is set (a scan in progress completes) or
        the task is cancelled."""
        stop = stop or Stop()
        start = self.clock.monotonic()
        # every scan runs once at start, then on its own phase of its rate (spread)
        phase = phases(self.name, ((s.device, s.interval_s) for s in self.plan.scans))
        schedules = [
            (PhasedRate(s.interval_s, start, phase[s.device, s.interval_s]), s)
            for s in self.plan.scans
        ]
        try:
            while not stop.is_set():
                raise_if_cancelled()  # a cancel pymodbus dropped as an answer came
                schedule, scan = min(schedules, key=lambda item: item[0].next_due)
                due = schedule.next_due - self.clock.monotonic()
                if await sleep_or_stop(self.clock, due, stop):
                    break
                await self.emit(await self.scan_batch(scan))
                self.devices[scan.device].late_scans += schedule.after_run(self.clock)
        finally:
            self.close()

    async def scan_all(self) -> list[Sample]:
        """Every scan once (for `gateway once`)."""
        self._retrying = False
        samples: list[Sample] = []
        for scan in self.plan.scans:
            samples.extend(await self.scan(scan))
        return samples

    def shutdown_grace_s(self) -> float:
        """The collector contract's grace: the longest one scan can take."""
        return self.longest_scan_s()

    def longest_scan_s(self) -> float:
        """The longest one scan can take: connecting (bounded by timeout + 1 s), then every
        request timing out after its retries, a merged read refused for its gap once more
        than its pieces. Shutdown waits this long for the scans in progress."""
        per_request = self.plan.timeout_s * (self.plan.retries + 1)
        reads = max(
            (sum(reads_at_most(r) for r in requests) for requests in self._requests.values()),
            default=0,
        )
        return self.plan.timeout_s + 1.0 + reads * per_request

    async def scan(self, scan: ScanPlan) -> list[Sample]:
        """Read one device at one rate: every reading as a Sample, in request order;
        failures are BAD samples, never exceptions."""
        return (await self.scan_batch(scan)).readings()

    async def scan_batch(self, scan: ScanPlan) -> Batch:
        """Read one device at one rate: GOOD values of plain tags encoded, the rest as
        Samples for the pipeline."""
        began = self.clock.monotonic()
        requests = self._requests[id(scan)]
        batch = Batch()
        if self.health[scan.device].demoted(began):
            self._skip_demoted(scan, batch)
            return batch
        async with self.lock:
            if await self._ensure_connected():
                await self._read_requests(scan, requests, began, batch)
            else:
                now = self.clock.now_ns()
                reason = f"not connected: {self._last_error}"
                for req in requests:
                    batch.add(failed(req, now, reason))
        self._count_scan(scan, began)
        return batch

    def _skip_demoted(self, scan: ScanPlan, batch: Batch) -> None:
        """A demoted device's scan: no I/O, its tags BAD with the last cause."""
        stats = self.devices[scan.device]
        stats.skipped_scans += 1
        reason = f"device demoted: {stats.last_error or 'no answer'}"
        now = self.clock.now_ns()
        for req in self._requests[id(scan)]:
            batch.add(failed(req, now, reason))

    def _count_scan(self, scan: ScanPlan, began: float) -> None:
        stats = self.devices[scan.device]
        stats.scans += 1
        stats.last_scan_seconds = self.clock.monotonic() - began
        stats.scan_seconds_total += stats.last_scan_seconds

    async def _read_requests(
        self,
        scan: ScanPlan,
        requests: list[ReadRequest[ModbusTagPlan]],
        began: float,
        batch: Batch,
    ) -> None:
        """Every request of the scan; after one got no answer, the others are still tried
        while the scan is within its rate (its time budget)."""
        tally = ScanTally()
        todo = deque(requests)
        reason = "not read"  # set with the reason whenever requests are left unread
        while todo:
            request = todo.popleft()
            if tally.silent and self.clock.monotonic() - began >= scan.interval_s:
                todo.appendleft(request)
                reason = (
                    f"not read: the scan's {scan.interval_s:g}s went to a request that got "
                    "no answer"
                )
                break
            result, outcome, code = await self._read(request, scan.unit, scan.device, batch)
            if code == ILLEGAL_ADDRESS and (pieces := split_refused(request)) != [request]:
                self._split(scan.device, request, pieces)
                todo.extendleft(reversed(pieces))
                continue
            if result is not None:
                batch.add(result)
            tally.add(request, outcome, code, result or [])
            if outcome is Outcome.LINK_LOST:
                reason = f"not connected: {self._last_error}"
                break
        now = self.clock.now_ns()
        for rest in todo:
            batch.add(failed(rest, now, reason))
        requests[:] = tally.next_order(todo)
        self._scan_done(scan, tally)

    def _scan_done(self, scan: ScanPlan, tally: ScanTally) -> None:
        """Account for a scan's requests, once they are all read or left unread."""
        if tally.answered is False and self._silent >= self._active_devices():
            # nobody on this link answers (a half-open link?): after two such scans in a row
            # reopen it, with backoff; one scan may just have been cut by its time budget
            self._unanswered_scans += 1
            if self._unanswered_scans >= 2:
                self._lost(tally.silent_reason)
        self._account(scan, tally)

    async def _read(
        self, request: ReadRequest[ModbusTagPlan], unit: int, device: str, batch: Batch
    ) -> tuple[list[Sample] | None, Outcome, int]:
        """Samples of one request (None: added to `batch` already), its outcome, and its
        Modbus exception code (0: none)."""
        stats = self.devices[device]
        stats.reads += 1
        try:
            response = await self._exchange(request, unit, device)
        except ConnectionException as exc:
            if self.stats.connected:  # not yet accounted (a close is, by the link's callback)
                self._lost(f"connection lost ({exc})")
            return failed(request, self.clock.now_ns(), self._last_error), Outcome.LINK_LOST, 0
        except ModbusException as exc:
            stats.read_errors += 1
            reason, silent = self._no_answer(exc, device)
            if not silent:  # a spoiled answer: the device is there
                return failed(request, self.clock.now_ns(), reason), Outcome.ANSWERED, 0
            self._silent.add(device)
            return failed(request, self.clock.now_ns(), reason), Outcome.SILENT, 0
        now = self.clock.now_ns()
        self._silent.clear()
        self._unanswered_scans = 0
        self._delay = self._backoff_min  # a real answer ends the connection's backoff
        if self._down_logged:
            log.info("Modbus %s is up again (%s answers).", self.name, device)
            self._down_logged = False
        if response.isError():
            stats.read_errors += 1
            code = response.exception_code
            return failed(request, now, exception_reason(code)), Outcome.ANSWERED, code
        values = response.bits if request.space.is_bit else response.registers
        if len(values) < request.count:
            stats.read_errors += 1
            reason = f"short response ({len(values)} of {request.count})"
            return failed(request, now, reason), Outcome.ANSWERED, 0
        if self.answered is not None:
            self.answered(request, values)
        raw = raw_registers(response)[: 2 * request.count]
        return self._encoder.add(request, values, raw, now, batch), Outcome.ANSWERED, 0

    def _exchange(
        self, request: ReadRequest[ModbusTagPlan], unit: int, device: str
    ) -> Awaitable[Any]:
        """The read of one request, to await (a bus collector adds its device's timing)."""
        return self.link.read(_READ[request.space], request.start, request.count, unit)

    def _no_answer(self, exc: ModbusException, device: str) -> tuple[str, bool]:
        """The reason of a request that got no valid answer, and whether nothing came."""
        return f"no response within {self.plan.timeout_s:g}s", True

    def _split(
        self,
        device: str,
        merged: ReadRequest[ModbusTagPlan],
        pieces: list[ReadRequest[ModbusTagPlan]],
    ) -> None:
        """Log, once per request, that a merged read is replaced by its pieces for good."""
        log.warning("%s", split_message(device, merged, pieces))

    def _active_devices(self) -> set[str]:
        """The devices currently polled (demoted ones send no requests)."""
        now = self.clock.monotonic()
        return {d for d in self._all_devices if not self.health[d].demoted(now)}

    async def _ensure_connected(self) -> bool:
        if self.link.connected:
            return True
        if self.clock.monotonic() < self._retry_at:
            return False
        self.stats.connects += 1
        error = await self.link.connect()
        if error:
            self._lost(error)
            return False
        if not self.link.connected:  # closed by the peer at once (on_closed accounted for it)
            return False
        self._silent.clear()  # a fresh connection starts the count
        self._unanswered_scans = 0
        if not self.stats.connected and not self._down_logged:
            log.info("Modbus %s connected.", self.name)
        self.stats.connected = True  # up again in the log only at a real answer (a peer may
        return True  # accept and close at every request: one outage, not a pair per attempt)

    def _lost(self, reason: str) -> None:
        """Mark the connection down and schedule the next attempt (exponential backoff)."""
        self._last_error = reason
        if not self._down_logged:
            retry = "; retrying with backoff" if self._retrying else ""
            log.warning("Modbus %s down: %s%s.", self.name, reason, retry)
            self._down_logged = True
        else:
            log.debug("Modbus %s still down: %s.", self.name, reason)
        self.stats.connected = False
        self.stats.connect_failures += 1
        self.link.close()
        self._retry_at = self.clock.monotonic() + self._delay
        self._delay = min(self._backoff_max, self._delay * 2)

    def _account(self, scan: ScanPlan, tally: ScanTally) -> None:
        """Count the scan for the device's health; log its transitions once."""
        device, stats = scan.device, self.devices[scan.device]
        if tally.unit_hint and device not in self._hinted:
            self._hinted.add(device)
            log.warning("Device %s: %s.", device, unit_hint_message(scan.unit, tally.unit_hint))
        elif tally.values:
            self._hinted.discard(device)
        answered = tally.answered
        if answered is None:  # the link was lost before any answer: not the device's fault
            return
        if not answered:
            stats.last_error = tally.silent_reason
        state = self.health[device].record(answered, self.clock.monotonic())
        if state is stats.state:
            return
        if state is State.UP:
            log.info("Device %s is answering again on %s.", device, self.name)
        elif stats.state is State.UP:
            log.warning(
                "Device %s is not answering on %s: %s.", device, self.name, stats.last_error
            )
        if state is State.DEMOTED and stats.state is not State.DEMOTED:
            log.warning(
                "Device %s demoted: its scans are skipped for a while, retried with "
                "backoff, so the other devices keep their schedules.",
                device,
            )
        stats.state = state

    def close(self) -> None:
        """Close the connection."""
        self.link.close()
        self.stats.connected = False
