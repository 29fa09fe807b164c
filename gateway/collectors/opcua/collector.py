"""The OPC UA collector: one session per device, kept up by the session supervisor.

On every new session the tags are bound again (`binding.bind`), `subscribe` tags get monitored
items (one subscription per publishing interval) and `poll` tags are read on fixed-rate
schedules, chunked to the server's MaxNodesPerRead. Notifications arrive as one batch per
publish response; they become samples at once and are queued, and one task hands them to
the pipeline in order. A lost session marks every tag BAD once (`connection lost: ...`): the
gap is visible, and no value is invented for it; the supervisor reconnects with backoff and
everything is set up again, resolving the node ids anew. A server not reached since start
marks every tag BAD once (`not connected: ...`), at the first failed attempt or after one
request timeout without an answer.

Counters, as for Modbus: `connects` counts connection attempts, `connect_failures` the failed
attempts and the lost sessions; the device is UP while a session is set up, DOWN otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

from asyncua import Client, ua

from gateway.clock import Clock, SystemClock
from gateway.collectors.base import ConnectionStats, DeviceStats, Emit, State
from gateway.collectors.opcua.binding import (
    Binding,
    Bound,
    Stamps,
    append_samples,
    bad_samples,
    bind,
)
from gateway.collectors.opcua.compile import OpcuaPlan
from gateway.collectors.opcua.delivery import Delivery
from gateway.collectors.opcua.limits import OperationLimits, read_limits
from gateway.collectors.opcua.models import Mode
from gateway.collectors.opcua.poll import ReadError, read, value_reads
from gateway.collectors.opcua.refusals import explain
from gateway.collectors.opcua.security import configure
from gateway.collectors.opcua.session import SessionSettings, SessionSupervisor
from gateway.collectors.opcua.subscribe import ItemSpec, SubscriptionSet, subscribe
from gateway.collectors.schedule import FixedRate, sleep_or_stop
from gateway.model import Sample

log = logging.getLogger(__name__)


class OpcuaConnection:
    """Reads one OPC UA device (one server session)."""

    protocol = "opcua"

    def __init__(self, plan: OpcuaPlan, emit: Emit, clock: Clock | None = None) -> None:
        self.plan = plan
        self.emit = emit
        self.clock = clock or SystemClock()
        self.name = plan.name  # the metrics label: endpoint and device
        self.stats = ConnectionStats()
        self.devices = {plan.device: DeviceStats(state=State.DOWN)}  # UP once a session is
        self.supervisor = SessionSupervisor(
            SessionSettings(plan.endpoint, request_timeout=plan.timeout_s),
            self._on_connected,
            configure=self._configure,
            on_lost=self._on_lost,
            name=f"{plan.device} ({plan.endpoint})",
        )
        self.delivery = Delivery(emit, self.name, stats=self.stats)
        self._polls: list[asyncio.Task[None]] = []
        self._subscriptions: list[SubscriptionSet] = []
        self._reported: set[tuple[str, str]] = set()  # (tag, reason) logged once
        self._attempting = False  # a connection attempt has begun and not (yet) succeeded
        self._gap_ns = 0  # when the last BAD gap marker was written (see Stamps)
        self._marked = False  # the tags were marked BAD as not connected (once, at start)
        self._setting_up = False  # a session is up and its tags are being set up
        self._set_up_once = False  # a session was set up (the supervisor counts it later)
        #: called with each tag `scan_all` read and its DataValue (`gateway once --raw`)
        self.answered: Callable[[Bound, ua.DataValue], None] | None = None

    @property
    def _device(self) -> DeviceStats:
        return self.devices[self.plan.device]

    # -- the contract --

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Keep the session up and deliver samples until `stop` is set."""
        stop = stop or asyncio.Event()
        deliver = asyncio.create_task(self.delivery.run())
        unreachable = asyncio.create_task(self._mark_unreachable(stop))
        try:
            await self.supervisor.run(stop)
        finally:
            unreachable.cancel()
            await self._stop_polls()
            with contextlib.suppress(asyncio.CancelledError):
                await unreachable
            await self.delivery.join()
            deliver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await deliver
            self.stats.connected = False

    async def scan_all(self) -> list[Sample]:
        """Read every tag once, whatever its mode (`gateway once`); never raises."""
        client = Client(self.plan.endpoint, timeout=self.plan.timeout_s)
        self.stats.connects += 1
        try:
            await configure(client, self.plan.security)
            await client.connect()
        except Exception as exc:
            reason = await explain(exc, url=self.plan.endpoint, settings=self.plan.security)
            self.stats.connect_failures += 1
            return bad_samples(self.plan.tags, f"not connected: {reason}", self.clock.now_ns())
        try:
            self.stats.connected = True
            limits = await read_limits(client)
            namespaces = await client.get_namespace_array()
            binding = await bind(client, self.plan, namespaces, limits)
            samples = self._unbound(binding)
            values = await read(client, value_reads([b.node_id for b in binding.bound]), limits)
            stamps = Stamps(self.clock.now_ns())
            for bound, data in zip(binding.bound, values, strict=True):
                if self.answered is not None:
                    self.answered(bound, data)
                append_samples(bound, data, stamps, samples)
            self._device.scans += 1
            return samples
        except (ReadError, ua.UaError, OSError, TimeoutError) as exc:
            return bad_samples(self.plan.tags, f"read failed: {exc}", self.clock.now_ns())
        finally:
            self.stats.connected = False
            with contextlib.suppress(Exception):
                await client.disconnect()

    @property
    def dropped(self) -> int:
        """Notification samples dropped because the pipeline could not keep up."""
        return self.delivery.dropped

    def shutdown_grace_s(self) -> float:
        """A poll in progress takes at most one request timeout per chunk; one is allowed."""
        return self.plan.timeout_s + 1.0

    def close(self) -> None:
        self.stats.connected = False

    # -- the session's life --

    async def _configure(self, client: Client) -> None:
        """Runs before every connection attempt. The supervisor reports no failed attempt, so
        one that began and never reached `_on_connected` is counted here, at the next one
        (within one backoff); the first such failure marks the tags BAD at once."""
        self.stats.connects += 1
        if self._attempting:
            self.stats.connect_failures += 1
            await self._mark_not_connected()
        self._attempting = True
        await configure(client, self.plan.security)

    async def _on_connected(self, client: Client, namespaces: list[str]) -> None:
        self._setting_up = True  # the server answers: a long set-up is no missing server
        try:
            await self._set_up(client, namespaces)
        except BaseException:
            # a failed set-up is a failed attempt: nothing of it may outlive this client
            await self._stop_polls()
            self._subscriptions = []
            raise
        finally:
            self._setting_up = False
        self._attempting = False
        self._set_up_once = True
        self.stats.connected = True
        self._device.state = State.UP
        self._device.last_error = ""

    async def _set_up(self, client: Client, namespaces: list[str]) -> None:
        limits = await read_limits(client)
        binding = await bind(client, self.plan, namespaces, limits)
        if binding.unbound:
            self.delivery.put(self._unbound(binding))
        by_mode: dict[tuple[Mode, float], list[Bound]] = defaultdict(list)
        for bound in binding.bound:
            by_mode[bound.tag.mode, bound.tag.interval_s].append(bound)
        self._subscriptions = []
        for (mode, interval), tags in by_mode.items():
            if mode is Mode.SUBSCRIBE:
                await self._subscribe(client, interval, tags, limits)
            else:
                self._polls.append(asyncio.create_task(self._poll(client, interval, tags, limits)))

    async def _on_lost(self, reason: str) -> None:
        self.stats.connected = False
        self.stats.connect_failures += 1
        self._device.state = State.DOWN
        self._device.last_error = reason
        await self._stop_polls()
        self._subscriptions = []
        self._gap_ns = self.clock.now_ns()
        self.delivery.put(bad_samples(self.plan.tags, f"connection lost: {reason}", self._gap_ns))

    async def _mark_unreachable(self, stop: asyncio.Event) -> None:
        """A first attempt that hangs (no answer at all) marks the tags after one request
        timeout; a refused one is marked sooner, at the next attempt (`_configure`)."""
        stopped = await sleep_or_stop(self.clock, self.plan.timeout_s + 1.0, stop)
        # a session being set up is a server that answers: marked only if the set-up fails
        if not stopped and not self._setting_up:
            await self._mark_not_connected()

    async def _mark_not_connected(self) -> None:
        """A server not reached since start: its tags are BAD once, with the cause."""
        if self._marked or self._set_up_once:
            return
        self._marked = True
        self._device.state = State.DOWN
        reason = f"not connected: {self.supervisor.last_error or 'no answer yet'}"
        self._device.last_error = reason
        self._gap_ns = self.clock.now_ns()
        self.delivery.put(bad_samples(self.plan.tags, reason, self._gap_ns))

    # -- subscriptions and polls --

    async def _subscribe(
        self, client: Client, interval: float, tags: list[Bound], limits: OperationLimits
    ) -> None:
        items = [
            ItemSpec(
                b.node_id,
                b.tag.sampling_interval_s * 1000,
                b.tag.queue_size,
                deadband=b.tag.filter,
            )
            for b in tags
        ]
        now_ns = self.clock.now_ns
        device = self._device

        offer = self.delivery.offer

        def on_data(batch: list[tuple[int, ua.DataValue]]) -> None:
            stamps = Stamps(now_ns(), self._gap_ns)
            samples: list[Sample] = []
            for index, data in batch:
                append_samples(tags[index], data, stamps, samples)
            device.reads += 1
            offer(samples)

        def on_status(status: ua.StatusCode) -> None:
            self.supervisor.lose(f"subscription status {status.name}")

        per_call = limits.max_monitored_items_per_call or None  # read once per session
        subs = await subscribe(
            client,
            items,
            interval * 1000,
            on_data,
            on_status=on_status,
            max_items_per_call=per_call,
        )
        self._subscriptions.append(subs)
        self.supervisor.watch_silence(lambda: subs.last_publish, subs.max_silence)
        if subs.failures:
            refused = [
                (tags[f.index].tag, f"monitored item refused: {f.status}") for f in subs.failures
            ]
            self.delivery.put(self._unbound(Binding([], refused)))

    async def _poll(
        self, client: Client, interval: float, tags: list[Bound], limits: OperationLimits
    ) -> None:
        items = value_reads([b.node_id for b in tags])
        schedule = FixedRate(interval, self.clock.monotonic())
        device = self._device
        while True:
            began = self.clock.monotonic()
            try:
                values = await read(client, items, limits)
            except ReadError as exc:
                self.supervisor.lose(str(exc))
                return
            stamps = Stamps(self.clock.now_ns(), self._gap_ns)
            samples: list[Sample] = []
            for bound, data in zip(tags, values, strict=True):
                append_samples(bound, data, stamps, samples)
            device.reads += 1
            device.scans += 1
            device.last_scan_seconds = self.clock.monotonic() - began
            device.scan_seconds_total += device.last_scan_seconds
            await self.delivery.room()  # a poll waits for the pipeline (a late scan if long)
            self.delivery.put(samples)
            device.late_scans += schedule.advance(self.clock.monotonic())
            await self.clock.sleep(max(0.0, schedule.next_due - self.clock.monotonic()))

    async def _stop_polls(self) -> None:
        polls, self._polls = self._polls, []
        for task in polls:
            task.cancel()
        for task in polls:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _unbound(self, binding: Binding) -> list[Sample]:
        """BAD samples of the tags that could not be bound, each reason logged once."""
        now = self.clock.now_ns()
        samples: list[Sample] = []
        for tag, reason in binding.unbound:
            if (tag.name, reason) not in self._reported:
                self._reported.add((tag.name, reason))
                log.warning("OPC UA %s: tag %s: %s", self.plan.device, tag.name, reason)
            samples += bad_samples([tag], reason, now)
        return samples
