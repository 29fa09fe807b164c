"""Runs the plant on a virtual clock and keeps its protocol servers up to date.

Simulated time advances in steps of `dt`; at `speed` X, X simulated seconds pass per wall
second (`speed=None`: as fast as possible, yielding to the servers between steps). Scenario
events fire when simulated time reaches them. Recorded and served timestamps are
`epoch + simulated time`, where epoch is the wall time at start.

As fast as possible, nobody can read every step, and copying the plant into the servers costs
more than the physics: there the servers get the plant's state at most every `publish_every`
seconds of the runner's clock (and at most a tenth of the time: an update that took 20 ms is
the last for 200 ms), after a scenario event and at the end. The recorder and the
operators' events see every step whatever the clock, so a record stays bit-identical per seed.
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
PUBLISH_EVERY = 0.05  # s of wall time between server updates at speed=None


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
        publish_every: float = PUBLISH_EVERY,
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
        # a live Plant stamps its lab samples from the epoch its time counts from: the runner's
        # (set when the plant was made, before the servers' start, it would lag the wall clock
        # by their start-up); a replay has none (it picks its frames from the record's start)
        if hasattr(plant, "epoch_ns"):
            plant.epoch_ns = self.epoch_ns
        self.steps = 0
        self.publish_every = publish_every
        self.publishes = 0  # server updates so far
        self._published_at: float | None = None  # the runner's clock at the last update
        self._serve_cost = 0.0  # s the last update took
        self._tasks: set[asyncio.Future[Any]] = set()

    def time_ns(self) -> int:
        """The timestamp of the current simulated instant."""
        return self.epoch_ns + round(self.plant.t * 1e9)

    async def publish(self) -> None:
        """Push the plant's state to every server and the recorder."""
        await self._serve()
        if self.recorder is not None:
            self.recorder.record(self.plant, self.time_ns())

    async def _serve(self) -> None:
        self.publishes += 1
        began = self.clock.monotonic()
        if self.modbus is not None:
            self.modbus.publish()
        if self.opcua is not None:
            await self.opcua.publish(datetime.fromtimestamp(self.time_ns() / 1e9, UTC))
        self._published_at = self.clock.monotonic()
        self._serve_cost = self._published_at - began

    def _serve_due(self) -> bool:
        """Whether the servers get this step: always at a finite speed; as fast as possible,
        once `publish_every` of the clock has passed since the last update."""
        if self.speed is not None or self._published_at is None:
            return True
        wait = max(self.publish_every, 9.0 * self._serve_cost)
        return self.clock.monotonic() - self._published_at >= wait

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until the duration (simulated seconds) has passed or `stop` is set."""
        stop = stop or asyncio.Event()
        start = self.clock.monotonic()
        try:
            await self._fire_due_events()
            await self.publish()
            stale = False
            while not stop.is_set() and not self._finished():
                step = (
                    self.dt if self.duration is None else min(self.dt, self.duration - self.plant.t)
                )
                self.plant.step(step)
                self.steps += 1
                self._log_operator_actions()
                fired = await self._fire_due_events()
                stale = not (fired or self._serve_due())
                if not stale:
                    await self._serve()
                if self.recorder is not None:
                    self.recorder.record(self.plant, self.time_ns())
                await self._pace(start, stop)
            if stale:  # the servers end on the last step, as a client reading later expects
                await self._serve()
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
            if self.recorder is not None:
                self.recorder.event(action, self.epoch_ns + round(action.t * 1e9))

    async def _fire_due_events(self) -> bool:
        """Carry out the events that are due; whether there were any."""
        fired = False
        while self.events and self.events[0].at <= self.plant.t + 1e-9:
            fired = True
            event = self.events.popleft()
            try:
                await self.apply(event)
            except (ValueError, KeyError) as exc:
                log.error("Scenario event at %gs failed: %s", event.at, exc)
        return fired

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
