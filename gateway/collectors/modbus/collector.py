"""Modbus TCP collector: one task and one lock per connection.

Every scan (one device at one rate) runs on its own fixed-rate schedule inside the
connection's task, so scans of one connection never overlap and a slow or dead endpoint only
delays itself. Failures become BAD samples with a reason; connection loss is retried with
exponential backoff; a device that keeps failing is demoted (see devicestate.py) so that the
other devices behind the same endpoint keep their schedules. State changes are logged once
(down at WARNING, back at INFO).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException

from gateway.clock import Clock, SystemClock
from gateway.collectors.devicestate import DeviceHealth, DeviceStats, State
from gateway.collectors.modbus.extract import exception_reason, extract, failed
from gateway.collectors.modbus.planner import ReadRequest
from gateway.collectors.modbus.types import Space
from gateway.collectors.schedule import FixedRate
from gateway.config.compile import ConnectionPlan, ScanPlan
from gateway.model import Sample

log = logging.getLogger(__name__)

Emit = Callable[[list[Sample]], Awaitable[None]]
ANSWERED, SILENT, LINK_LOST = object(), object(), object()  # outcomes of one request

_READ = {
    Space.COIL: "read_coils",
    Space.DISCRETE_INPUT: "read_discrete_inputs",
    Space.HOLDING_REGISTER: "read_holding_registers",
    Space.INPUT_REGISTER: "read_input_registers",
}


@dataclass
class ConnectionStats:
    """Counters of one connection (metrics labels: endpoint)."""

    connected: bool = False
    connects: int = 0
    connect_failures: int = 0


class ModbusConnection:
    """Polls every device behind one Modbus TCP endpoint."""

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
        self._all_devices = set(plan.devices)
        self._silent: set[str] = set()  # devices that failed to answer since the last answer
        self.client = AsyncModbusTcpClient(
            plan.endpoint.host,
            port=plan.endpoint.port,
            timeout=plan.timeout_s,
            retries=plan.retries,
            reconnect_delay=0,
            name=self.name,
        )
        self.client.set_max_no_responses(2**31)  # reconnecting is our decision, not pymodbus's

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Scan on the fixed schedules until `stop` is set (a scan in progress completes) or
        the task is cancelled."""
        stop = stop or asyncio.Event()
        start = self.clock.monotonic()
        schedules = [(FixedRate(scan.interval_s, start), scan) for scan in self.plan.scans]
        try:
            while not stop.is_set():
                schedule, scan = min(schedules, key=lambda item: item[0].next_due)
                if await self._sleep_or_stop(schedule.next_due - self.clock.monotonic(), stop):
                    break
                await self.emit(await self.scan(scan))
                self.devices[scan.device].late_scans += schedule.advance(self.clock.monotonic())
        finally:
            self.close()

    async def _sleep_or_stop(self, seconds: float, stop: asyncio.Event) -> bool:
        """Sleep on the clock; True when `stop` was set first."""
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            stopper.cancel()
        return stop.is_set()

    async def scan_all(self) -> list[Sample]:
        """Every scan once (for `gateway once`)."""
        samples: list[Sample] = []
        for scan in self.plan.scans:
            samples.extend(await self.scan(scan))
        return samples

    async def scan(self, scan: ScanPlan) -> list[Sample]:
        """Read one device at one rate; failures are BAD samples, never exceptions."""
        began = self.clock.monotonic()
        stats = self.devices[scan.device]
        if self.health[scan.device].demoted(began):
            stats.skipped_scans += 1
            reason = f"device demoted: {stats.last_error}"
            return [s for req in scan.requests for s in failed(req, self.clock.now_ns(), reason)]
        async with self.lock:
            if await self._ensure_connected():
                samples = await self._read_requests(scan)
            else:
                now = self.clock.now_ns()
                reason = f"not connected: {self._last_error}"
                samples = [s for req in scan.requests for s in failed(req, now, reason)]
        stats.scans += 1
        stats.last_scan_seconds = self.clock.monotonic() - began
        stats.scan_seconds_total += stats.last_scan_seconds
        return samples

    async def _read_requests(self, scan: ScanPlan) -> list[Sample]:
        samples: list[Sample] = []
        outcome = ANSWERED
        for index, request in enumerate(scan.requests):
            result, outcome = await self._read(request, scan.unit, scan.device)
            samples.extend(result)
            if outcome is not ANSWERED:
                now = self.clock.now_ns()
                for rest in scan.requests[index + 1 :]:
                    samples.extend(failed(rest, now, "skipped: device did not answer this scan"))
                break
        if outcome is not LINK_LOST:  # a lost link is the connection's failure, not the device's
            self._device_state(scan.device, outcome is ANSWERED, samples)
        return samples

    async def _read(
        self, request: ReadRequest, unit: int, device: str
    ) -> tuple[list[Sample], object]:
        """Samples of one request, and the outcome: ANSWERED (even with an exception), SILENT
        (no answer in time) or LINK_LOST."""
        stats = self.devices[device]
        stats.reads += 1
        read = getattr(self.client, _READ[request.space])
        try:
            response = await read(request.start, count=request.count, device_id=unit)
        except ConnectionException as exc:
            self._lost(f"connection lost ({exc})")
            return failed(request, self.clock.now_ns(), self._last_error), LINK_LOST
        except ModbusException:
            stats.read_errors += 1
            reason = f"no response within {self.plan.timeout_s:g}s"
            self._silent.add(device)
            if not self.client.connected or self._silent >= self._active_devices():
                self._lost(reason)  # nobody on this link answers: reopen it, with backoff
            return failed(request, self.clock.now_ns(), reason), SILENT
        now = self.clock.now_ns()
        self._silent.clear()
        self._delay = self._backoff_min  # a real answer ends the connection's backoff
        if response.isError():
            stats.read_errors += 1
            return failed(request, now, exception_reason(response.exception_code)), ANSWERED
        values = response.bits if request.space.is_bit else response.registers
        if len(values) < request.count:
            stats.read_errors += 1
            reason = f"short response ({len(values)} of {request.count})"
            return failed(request, now, reason), ANSWERED
        return extract(request, values, now), ANSWERED

    def _active_devices(self) -> set[str]:
        """The devices currently polled (demoted ones send no requests)."""
        now = self.clock.monotonic()
        return {d for d in self._all_devices if not self.health[d].demoted(now)}

    async def _ensure_connected(self) -> bool:
        if self.client.connected:
            return True
        if self.clock.monotonic() < self._retry_at:
            return False
        self.stats.connects += 1
        try:
            ok = await asyncio.wait_for(self.client.connect(), self.plan.timeout_s + 1.0)
            error = "" if ok else "connection refused or unreachable"
        except (TimeoutError, OSError) as exc:
            ok, error = False, f"cannot connect ({exc or type(exc).__name__})"
        if not ok:
            self._lost(error)
            return False
        self._silent.clear()  # a fresh connection starts the count
        if not self.stats.connected:
            log.info("Modbus %s connected.", self.name)
        self.stats.connected = True
        self._down_logged = False
        return True

    def _lost(self, reason: str) -> None:
        """Mark the connection down and schedule the next attempt (exponential backoff)."""
        self._last_error = reason
        if not self._down_logged:
            log.warning("Modbus %s down: %s; retrying with backoff.", self.name, reason)
            self._down_logged = True
        self.stats.connected = False
        self.stats.connect_failures += 1
        self.client.close()
        self._retry_at = self.clock.monotonic() + self._delay
        self._delay = min(self._backoff_max, self._delay * 2)

    def _device_state(self, device: str, answered: bool, samples: list[Sample]) -> None:
        """Count the scan for the device's health; log its transitions once."""
        stats = self.devices[device]
        if not answered:
            stats.last_error = samples[0].reason if samples else "no answer"
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
        self.client.close()
        self.stats.connected = False
