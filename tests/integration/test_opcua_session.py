"""gateway.collectors.opcua.session: loss detection, reconnection and re-subscription against
real asyncua servers on 127.0.0.1 (stopped, restarted with reordered namespaces, or dropping
the session while the socket stays open)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, ua

from gateway.collectors.opcua.session import SessionSettings, SessionSupervisor
from gateway.collectors.opcua.subscribe import Batch, ItemSpec, subscribe
from simulators.ports import free_port
from tests.uaserver import URI, UaTestServer

pytestmark = pytest.mark.integration
WAIT = 60.0  # generous bound for a shared machine; never a timing assertion
WATCHDOG = 0.5
COUNT = 10
SESSION_LOG = "gateway.collectors.opcua.session"


class Glue:
    """What the collector glue does in on_connected: resolve the namespace URI, subscribe."""

    def __init__(self) -> None:
        self.supervisor: SessionSupervisor | None = None  # set: watch the publish responses
        self.values: dict[int, object] = {}
        self.namespace_indexes: list[int] = []
        self.lost: list[str] = []
        self.changed = asyncio.Event()
        self.lost_event = asyncio.Event()

    async def on_connected(self, client: Client, namespaces: list[str]) -> None:
        ns = namespaces.index(URI)
        self.namespace_indexes.append(ns)
        items = [ItemSpec(ua.NodeId(ua.String(f"v{i}"), ua.Int16(ns)), 0.0) for i in range(COUNT)]
        subs = await subscribe(client, items, 50.0, self.on_data, keepalive=0.5)
        assert subs.failures == []
        if self.supervisor is not None:
            self.supervisor.watch_silence(lambda: subs.last_publish, subs.max_silence)

    def on_data(self, batch: Batch) -> None:
        for index, dv in batch:
            self.values[index] = dv.Value.Value if dv.Value is not None else None
        self.changed.set()

    async def on_lost(self, reason: str) -> None:
        self.lost.append(reason)
        self.lost_event.set()

    async def until_values(self, base: float) -> None:
        async def wait() -> None:
            while not all(self.values.get(i) == base + i for i in range(COUNT)):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), WAIT)

    async def until_lost(self) -> None:
        await asyncio.wait_for(self.lost_event.wait(), WAIT)
        self.lost_event.clear()


@pytest_asyncio.fixture
async def server() -> AsyncIterator[UaTestServer]:
    srv = UaTestServer(COUNT)
    await srv.start()
    yield srv
    await srv.stop()


def supervised(url: str, glue: Glue, request_timeout: float = 5.0) -> SessionSupervisor:
    return SessionSupervisor(
        SessionSettings(url, watchdog_interval=WATCHDOG, request_timeout=request_timeout),
        glue.on_connected,
        on_lost=glue.on_lost,
    )


async def stopped(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Stop the supervisor; no asyncua client task may outlive it (old sessions included)."""
    stop.set()
    await asyncio.wait_for(task, WAIT)
    await asyncio.sleep(0)  # cancelled tasks finish on the next loop iteration
    names = {t.get_coro().__qualname__ for t in asyncio.all_tasks() if not t.done()}  # type: ignore[union-attr]
    client_loops = {"_publish_loop", "_connection_supervisor", "_stale_watchdog_loop"}
    assert not {n for n in names if n.rsplit(".", 1)[-1] in client_loops | {"_renew_channel_loop"}}


async def test_a_restart_with_reordered_namespaces_resumes_every_subscription(
    server: UaTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=SESSION_LOG)
    glue, stop = Glue(), asyncio.Event()
    supervisor = supervised(server.url, glue)
    task = asyncio.create_task(supervisor.run(stop))
    try:
        await server.write_all(10.0)
        await glue.until_values(10.0)
        await server.stop()
        await glue.until_lost()
        assert not supervisor.connected
        # Down for a few backoff rounds, then back on the same port, URI at another index.
        await server.start(extra_namespaces=("urn:test:extra-a", "urn:test:extra-b"))
        await server.write_all(20.0)
        await glue.until_values(20.0)
        assert glue.namespace_indexes == [2, 4]
        assert supervisor.sessions == 2
        assert supervisor.connected
    finally:
        await stopped(task, stop)
    messages = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == SESSION_LOG]
    assert [m for m in messages if m[0] >= logging.WARNING] == [
        (logging.WARNING, f"OPC UA {server.url}: session lost ({glue.lost[0]}); reconnecting")
    ]
    assert sum("re-established" in m for _, m in messages) == 1


async def test_a_session_the_server_drops_is_detected_and_recreated(server: UaTestServer) -> None:
    glue, stop = Glue(), asyncio.Event()
    supervisor = supervised(server.url, glue)
    task = asyncio.create_task(supervisor.run(stop))
    try:
        await server.write_all(1.0)
        await glue.until_values(1.0)
        assert await server.close_sessions_keep_sockets() == 1
        await glue.until_lost()  # the socket is still open: found by the watchdog's probe
        # asyncua's server answers BadSessionNotActivated, others BadSessionIdInvalid/-Closed.
        assert glue.lost[0].startswith("BadSession")
        await server.write_all(2.0)
        await glue.until_values(2.0)
        assert supervisor.sessions == 2
    finally:
        await stopped(task, stop)
    assert len(glue.lost) == 1


async def test_a_server_that_stops_answering_is_detected(server: UaTestServer) -> None:
    glue, stop = Glue(), asyncio.Event()
    supervisor = supervised(server.url, glue, request_timeout=10 * WAIT)  # teardown must not wait
    task = asyncio.create_task(supervisor.run(stop))
    try:
        await server.write_all(7.0)
        await glue.until_values(7.0)
        assert server.stop_answering() == 1
        await glue.until_lost()  # the watchdog's probe times out (long before the request timeout)
        assert glue.lost == ["timed out"]
        await server.write_all(8.0)  # the new connection is read again
        await glue.until_values(8.0)
        assert supervisor.sessions == 2
    finally:
        await stopped(task, stop)


async def test_a_subscription_that_stops_publishing_is_detected(server: UaTestServer) -> None:
    """The server forgets the subscription, the session stays: reads (the watchdog's probe)
    still work, asyncua's publish loop ends on BadNoSubscription; only the silence tells."""
    glue, stop = Glue(), asyncio.Event()
    supervisor = glue.supervisor = supervised(server.url, glue)
    task = asyncio.create_task(supervisor.run(stop))
    try:
        await server.write_all(5.0)
        await glue.until_values(5.0)
        assert server.server is not None
        service = server.server.iserver.subscription_service
        await service.delete_subscriptions(list(service.subscriptions))
        await glue.until_lost()
        assert glue.lost[0].startswith("no publish response for ")
        await server.write_all(6.0)
        await glue.until_values(6.0)
        assert supervisor.sessions == 2
    finally:
        await stopped(task, stop)


async def test_a_loss_reported_by_the_caller_reconnects(server: UaTestServer) -> None:
    glue, stop = Glue(), asyncio.Event()
    supervisor = supervised(server.url, glue)
    task = asyncio.create_task(supervisor.run(stop))
    try:
        await server.write_all(0.0)
        await glue.until_values(0.0)
        supervisor.lose("BadTimeout")
        await glue.until_lost()
        assert glue.lost == ["BadTimeout"]
        await server.write_all(3.0)
        await glue.until_values(3.0)
        assert glue.namespace_indexes == [2, 2]
    finally:
        await stopped(task, stop)


async def test_failed_attempts_back_off_and_warn_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=SESSION_LOG)
    attempts = asyncio.Event()
    count = 0

    async def configure(client: Client) -> None:
        nonlocal count
        count += 1
        if count == 5:
            attempts.set()

    glue, stop = Glue(), asyncio.Event()
    url = f"opc.tcp://127.0.0.1:{free_port('127.0.0.1')}/"
    supervisor = SessionSupervisor(
        SessionSettings(url, backoff_initial=0.01, backoff_max=0.05),
        glue.on_connected,
        configure=configure,
    )
    task = asyncio.create_task(supervisor.run(stop))
    await asyncio.wait_for(attempts.wait(), WAIT)
    await stopped(task, stop)
    warnings = [r for r in caplog.records if r.name == SESSION_LOG and r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "cannot connect" in warnings[0].getMessage()
    assert supervisor.sessions == 0
    assert supervisor.last_error


async def in_backoff(supervisor: SessionSupervisor) -> None:
    """Until the failed attempt is recorded, which happens just before the backoff wait."""
    while not supervisor.last_error:
        await asyncio.sleep(0.01)


async def test_stop_during_backoff_is_prompt() -> None:
    failed = asyncio.Event()

    class Refusing(Glue):
        async def on_connected(self, client: Client, namespaces: list[str]) -> None:
            failed.set()
            raise RuntimeError("refused by the glue")

    srv = UaTestServer(1)
    await srv.start()
    try:
        glue, stop = Refusing(), asyncio.Event()
        supervisor = SessionSupervisor(
            SessionSettings(srv.url, backoff_initial=1000.0, backoff_max=1000.0), glue.on_connected
        )
        task = asyncio.create_task(supervisor.run(stop))
        await asyncio.wait_for(failed.wait(), WAIT)
        await asyncio.wait_for(in_backoff(supervisor), WAIT)
        stop.set()
        await asyncio.wait_for(task, WAIT)  # far below the 800 s the backoff would take
        assert supervisor.last_error == "RuntimeError: refused by the glue"
    finally:
        await srv.stop()
