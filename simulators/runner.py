"""Runs the plant on a virtual clock and keeps its protocol servers up to date.

Simulated time advances in steps of `dt`; at `speed` X, X simulated seconds pass per wall
second (`speed=None`: as fast as possible, yielding to the servers between steps). Scenario
events fire when simulated time reaches them. Recorded and served timestamps are
`epoch + simulated time`, where epoch is the wall time at start.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import UTC, datetime
from typing import Any

from gateway.clock import Clock, SystemClock
from gateway.collectors.schedule import sleep_or_stop
from simulators.record import Recorder
from simulators.scenario import Event, Scenario
from simulators.sensorfaults import KINDS as SENSOR_FAULTS
from simulators.sensorfaults import SensorFaults

log = logging.getLogger(__name__)


class PlantRunner:
    """Steps a Plant (or ReplayPlant) and publishes each step to the servers."""

    def __init__(
        self,
        plant: Any,
        *,
        modbus: Any | None = None,
        opcua: Any | None = None,
        speed: float | None = 1.0,
        dt: float = 1.0,
        duration: float | None = None,
        scenario: Scenario | None = None,
        recorder: Recorder | None = None,
        clock: Clock | None = None,
        epoch_ns: int | None = None,
        sensors: SensorFaults | None = None,
    ) -> None:
        self.plant = plant
        self.sensors = sensors  # the data-quality faults the PLCs apply
        self.modbus = modbus
        self.opcua = opcua
        self.speed = speed
        self.dt = dt
        self.duration = duration
        self.events = deque(scenario.sorted_events() if scenario else [])
        self.recorder = recorder
        self.clock = clock or SystemClock()
        self.epoch_ns = self.clock.now_ns() if epoch_ns is None else epoch_ns
        if hasattr(plant, "epoch_ns"):  # a live Plant stamps its lab samples with it
            plant.epoch_ns = self.epoch_ns
        self.steps = 0
        self._tasks: set[asyncio.Future[Any]] = set()

    def time_ns(self) -> int:
        """The timestamp of the current simulated instant."""
        return self.epoch_ns + round(self.plant.t * 1e9)

    async def publish(self) -> None:
        """Push the plant's state to every server and the recorder."""
        if self.modbus is not None:
            self.modbus.publish()
        if self.opcua is not None:
            await self.opcua.publish(datetime.fromtimestamp(self.time_ns() / 1e9, UTC))
        if self.recorder is not None:
            self.recorder.record(self.plant, self.time_ns())

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until the duration (simulated seconds) has passed or `stop` is set."""
        stop = stop or asyncio.Event()
        start = self.clock.monotonic()
        try:
            await self._fire_due_events()
            await self.publish()
            while not stop.is_set() and not self._finished():
                step = (
                    self.dt if self.duration is None else min(self.dt, self.duration - self.plant.t)
                )
                self.plant.step(step)
                self.steps += 1
                self._log_operator_actions()
                await self._fire_due_events()
                await self.publish()
                await self._pace(start, stop)
        finally:  # a server restart still in progress must not bring a server back later
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def pending(self) -> int:
        """Background jobs (server restarts) still running."""
        return sum(1 for task in self._tasks if not task.done())

    def _finished(self) -> bool:
        return self.duration is not None and self.plant.t >= self.duration - 1e-9

    async def _pace(self, start: float, stop: asyncio.Event) -> None:
        if self.speed is None:
            await asyncio.sleep(0)
            return
        wait = start + self.plant.t / self.speed - self.clock.monotonic()
        if wait <= 0:
            await asyncio.sleep(0)
        else:  # a stop ends the wait: at a slow speed the next step can be minutes away
            await sleep_or_stop(self.clock, wait, stop)

    def _log_operator_actions(self) -> None:
        take = getattr(self.plant, "take_actions", None)  # a ReplayPlant has no operators
        for action in take() if take is not None else ():
            detail = f" ({action.detail})" if action.detail else ""
            log.info("t=%gs: %s: %s%s", action.t, action.device, action.action, detail)

    async def _fire_due_events(self) -> None:
        while self.events and self.events[0].at <= self.plant.t + 1e-9:
            event = self.events.popleft()
            try:
                await self.apply(event)
            except (ValueError, KeyError) as exc:
                log.error("Scenario event at %gs failed: %s", event.at, exc)

    async def apply(self, event: Event) -> None:
        """Carry out one scenario event."""
        log.info("t=%gs: %s", self.plant.t, event.model_dump(exclude_none=True))
        plant = self.plant
        if event.fault:
            if event.fault in SENSOR_FAULTS:
                self._sensors().inject(event.fault, event.target, event.settings or {}, plant.t)
            else:
                plant.inject(event.fault, event.target)
        if event.clear:
            if event.clear in SENSOR_FAULTS:
                self._sensors().clear(event.clear, event.target)
            else:
                plant.clear(event.clear, event.target)
        if event.command == "tap":
            plant.tap(event.target)
        elif event.command == "change_anode":
            plant.change_anode(event.target)
        elif event.command == "reset_rectifier":
            plant.reset_rectifier()
        if event.write:
            plant.write(event.write.device, event.write.tag, event.write.value)
        if event.modbus and self.modbus is not None:
            await self._modbus_fault(event)
        if event.opcua and self.opcua is not None:
            await self._opcua_fault(event)

    def _sensors(self) -> SensorFaults:
        if self.sensors is None:
            raise ValueError("data-quality faults need the runner's sensors= (none given)")
        return self.sensors

    async def _modbus_fault(self, event: Event) -> None:
        spec = event.modbus
        assert spec is not None
        if spec.device:
            faults = self.modbus.faults(spec.device)  # type: ignore[union-attr]
            faults.exception, faults.delay, faults.silent = spec.exception, spec.delay, spec.silent
        if spec.drop_connections:
            await self.modbus.drop_connections()  # type: ignore[union-attr]
        if spec.restart is not None:  # in the background: the plant keeps running meanwhile
            self._background(self.modbus.restart(spec.restart))  # type: ignore[union-attr]

    async def _opcua_fault(self, event: Event) -> None:
        spec = event.opcua
        assert spec is not None
        if spec.device and spec.tag:
            self.opcua.set_bad_status(spec.device, spec.tag, spec.status)  # type: ignore[union-attr]
        if spec.drop_sessions:
            await self.opcua.drop_sessions()  # type: ignore[union-attr]
        if spec.restart is not None:
            self._background(self.opcua.restart(spec.restart))  # type: ignore[union-attr]

    def _background(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
