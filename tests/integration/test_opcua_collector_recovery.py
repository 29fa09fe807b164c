"""The OPC UA collector's session life: a server restarted with its namespaces reordered, a
server unreachable at start, the device's state and connection counters."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from asyncua import ua

from gateway.collectors.base import State
from gateway.collectors.opcua import delivery as delivery_module
from gateway.collectors.opcua.collector import OpcuaConnection
from gateway.model import Quality, Sample
from tests.integration.opcua_collecting import (
    Recorder,
    eventually,
    every_field,
    plan_of,
    running,
)
from tests.uaserver import URI, UaTestServer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
GOOD, BAD = Quality.GOOD, Quality.BAD
COUNT = 4


def tags(mode: str) -> list[dict[str, object]]:
    return [{"name": f"v{i}", "node": f"nsu={URI};s=v{i}", "mode": mode} for i in range(COUNT)]


def valued(base: float) -> Callable[[Sample], bool]:
    return lambda s: s.quality is GOOD and s.value == base + int(s.point.field[1:])


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
async def test_a_restart_with_reordered_namespaces_resumes_by_itself(mode: str) -> None:
    server = UaTestServer(COUNT)
    await server.start()
    plan = plan_of(server.url, tags(mode))
    recorder = Recorder()
    connection = OpcuaConnection(plan, recorder)
    try:
        async with running(connection):
            await server.write_all(1.0)
            await recorder.until(every_field(plan, valued(1.0)))
            assert connection.devices["dev"].state is State.UP
            assert connection.stats.connected
            before_loss = len(recorder.samples)
            await server.stop()
            await recorder.until(every_field(plan, lambda s: s.quality is BAD))
            assert connection.devices["dev"].state is State.DOWN
            assert not connection.stats.connected
            await server.start(extra_namespaces=("urn:first", "urn:second"))
            assert server.ns == 4  # the index moved: only nsu= ids find the nodes
            await eventually(lambda: connection.stats.connected, timeout=60)
            await server.write_all(100.0)
            await recorder.until(every_field(plan, valued(100.0)), timeout=60)
            assert connection.devices["dev"].state is State.UP
        gap = recorder.samples[before_loss:]
        bad = [s for s in gap if s.quality is BAD]
        assert len(bad) == COUNT  # one per field, the loss's
        assert all(s.value is None and s.reason.startswith("connection lost: ") for s in bad)
        first_bad = gap.index(bad[0])
        # after the loss only the new server's values: its initial 0.0 + i, then 100 + i
        for s in gap[first_bad + COUNT :]:
            assert s.quality is GOOD
            assert s.value in (0.0, 100.0 + int(s.point.field[1:]))
        # attempts: the first, the failed ones while down, the one that got through; failures:
        # the loss and the failed attempts
        assert connection.stats.connects == connection.stats.connect_failures + 1 >= 2
    finally:
        await server.stop()


async def test_a_server_unreachable_at_start_is_bad_once_then_connects() -> None:
    server = UaTestServer(COUNT)  # a free port, nothing listening yet
    plan = plan_of(server.url, tags("subscribe"), timeout=2.0)
    recorder = Recorder()
    connection = OpcuaConnection(plan, recorder)
    try:
        async with running(connection):
            await recorder.until(every_field(plan, lambda s: s.quality is BAD))
            assert connection.devices["dev"].state is State.DOWN
            assert connection.stats.connect_failures >= 1
            await server.start()
            await server.write_all(3.0)
            await recorder.until(every_field(plan, valued(3.0)), timeout=60)
            assert connection.devices["dev"].state is State.UP
            assert connection.stats.connected
            failures, connects = connection.stats.connect_failures, connection.stats.connects
            assert connects == failures + 1  # every attempt counted, the failed ones too
        bad = [s for s in recorder.samples if s.quality is BAD]
        assert len(bad) == COUNT
        assert all(s.reason.startswith("not connected: ") for s in bad)
    finally:
        await server.stop()


async def test_the_first_failed_attempt_marks_the_tags_at_once() -> None:
    """Refused at once: the tags are BAD after the first attempt, not after a timeout."""
    server = UaTestServer(COUNT)
    plan = plan_of(server.url, tags("poll"), timeout=30.0)
    recorder = Recorder()
    async with running(OpcuaConnection(plan, recorder)):
        await recorder.until(every_field(plan, lambda s: s.quality is BAD), timeout=10)


async def test_stop_while_connected_leaves_no_task() -> None:
    server = UaTestServer(COUNT)
    await server.start()
    try:
        plan = plan_of(
            server.url,
            tags("poll") + [{"name": f"s{i}", "node": f"nsu={URI};s=v{i}"} for i in range(COUNT)],
        )
        recorder = Recorder()
        before = asyncio.all_tasks()
        async with running(OpcuaConnection(plan, recorder)):
            await recorder.until(every_field(plan, lambda s: s.quality is GOOD))
        await asyncio.sleep(0)
        left = [t for t in asyncio.all_tasks() - before if not t.done()]
        assert left == [asyncio.current_task()] or not [
            t for t in left if t is not asyncio.current_task()
        ]
    finally:
        await server.stop()


async def test_a_pipeline_that_falls_behind_drops_notifications_at_the_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery_module, "MAX_PENDING", 3 * COUNT)
    server = UaTestServer(COUNT)
    await server.start()
    plan = plan_of(server.url, tags("subscribe"), scan_rate=0.05)
    release = asyncio.Event()
    recorder = Recorder()

    async def slow(batch: list[Sample]) -> None:
        await release.wait()  # a pipeline stuck (never so slow in practice)
        await recorder(batch)

    connection = OpcuaConnection(plan, slow)
    try:
        async with running(connection):
            value = 0.0
            while not connection.dropped:  # change every value until the queue is full
                value += 1000.0
                await server.write_all(value)
                await asyncio.sleep(0.05)
                assert connection.delivery.pending <= 4 * COUNT  # the bound, plus one batch at most
            release.set()
            await server.write_all(-1000.0)
            await recorder.until(every_field(plan, valued(-1000.0)))
        assert connection.stats.connects == 1  # the session stayed up
        assert connection.stats.dropped_samples == connection.dropped > 0  # the metric's count
    finally:
        await server.stop()


async def test_a_set_up_that_fails_leaves_no_poll_behind(caplog: pytest.LogCaptureFixture) -> None:
    """The first CreateSubscription is refused after the polls started: the attempt fails and
    is retried, and its polls must not outlive it (one would report the next session lost)."""
    server = UaTestServer(COUNT)
    await server.start()
    assert server.server is not None
    service = server.server.iserver.subscription_service
    original = service.create_subscription
    refused: list[int] = []

    async def create(*args: Any, **kwargs: Any) -> Any:
        if not refused:
            refused.append(1)
            raise ua.UaStatusCodeError(ua.StatusCodes.BadTooManySubscriptions)
        return await original(*args, **kwargs)

    service.create_subscription = create  # type: ignore[method-assign]
    # polls slower than the first backoff (~1 s): an orphan would wake in the next session
    sub = {"name": "sub", "node": f"nsu={URI};s=v0"}
    plan = plan_of(server.url, [*tags("poll"), sub], scan_rate=2.0, publishing_interval=0.1)
    recorder = Recorder()
    connection = OpcuaConnection(plan, recorder)
    try:
        async with running(connection):
            await server.write_all(5.0)
            await recorder.until(every_field(plan, lambda s: s.quality is GOOD and s.value != 0))
            scans = connection.devices["dev"].scans
            await eventually(lambda: connection.devices["dev"].scans >= scans + 2)
            assert connection.supervisor.sessions == 1
        assert refused
        assert not [r for r in caplog.records if "session lost" in r.getMessage()]
    finally:
        await server.stop()


@pytest.mark.parametrize("mode", ["subscribe", "poll"])
async def test_an_unchanged_value_after_a_lost_session_ends_the_series_good(mode: str) -> None:
    """The server drops the session but keeps running: the re-sent values keep the source
    time of their last change, before the gap marker; written at that time the series would
    end BAD. They are written at the time they are read again, after the marker."""
    server = UaTestServer(COUNT)
    await server.start()
    plan = plan_of(server.url, tags(mode))
    recorder = Recorder()
    connection = OpcuaConnection(plan, recorder)
    try:
        async with running(connection):
            await server.write_all(5.0)
            await recorder.until(every_field(plan, valued(5.0)))
            sessions = connection.supervisor.sessions
            await server.close_sessions_keep_sockets()
            await recorder.until(every_field(plan, lambda s: s.quality is BAD), timeout=30)
            await eventually(lambda: connection.supervisor.sessions > sessions, timeout=60)
            await recorder.until(
                lambda _: all(  # after the marker, every field is GOOD again, unchanged
                    (last := latest(recorder, f.point)) is not None
                    and last.quality is GOOD
                    and last.value == 5.0 + int(f.point.field[1:])
                    for f in plan.tag_plans()
                ),
                timeout=60,
            )
        for f in plan.tag_plans():
            marker = max(
                s.time_ns for s in recorder.samples if s.point is f.point and s.quality is BAD
            )
            newest = max(recorder.samples, key=lambda s: (s.point is f.point, s.time_ns))
            assert newest.point is f.point
            assert newest.quality is GOOD  # the series ends GOOD
            assert newest.time_ns > marker
    finally:
        await server.stop()


def latest(recorder: Recorder, point: Any) -> Sample | None:
    """The newest sample of `point` by time, if it comes after the newest BAD one."""
    mine = [s for s in recorder.samples if s.point is point]
    if not mine:
        return None
    newest = max(mine, key=lambda s: s.time_ns)
    bad = [s.time_ns for s in mine if s.quality is BAD]
    return newest if bad and newest.time_ns > max(bad) else None
