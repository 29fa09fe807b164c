"""gateway.collectors.opcua.subscribe against a real asyncua server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from asyncua import Client, ua

from gateway.collectors.opcua.subscribe import (
    Batch,
    Deadband,
    ItemFailure,
    ItemSpec,
    read_max_monitored_items_per_call,
    subscribe,
)
from tests.uaserver import UaTestServer

pytestmark = pytest.mark.integration
WAIT = 60.0  # generous bound for a shared machine; never a timing assertion


class Collected:
    """Latest value per item index, every batch's size, and a wait for a condition."""

    def __init__(self) -> None:
        self.latest: dict[int, ua.DataValue] = {}
        self.seen: dict[int, list[object]] = {}
        self.batch_sizes: list[int] = []
        self._changed = asyncio.Event()

    def __call__(self, batch: Batch) -> None:
        self.batch_sizes.append(len(batch))
        for index, value in batch:
            self.latest[index] = value
            self.seen.setdefault(index, []).append(value.Value.Value if value.Value else None)
        self._changed.set()

    def value(self, index: int) -> object:
        dv = self.latest.get(index)
        return None if dv is None or dv.Value is None else dv.Value.Value

    async def until(self, condition: Callable[[], bool]) -> None:
        async def wait() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), WAIT)


async def served(count: int, max_per_call: int = 0) -> UaTestServer:
    server = UaTestServer(count)
    await server.start(max_per_call=max_per_call)
    return server


@pytest_asyncio.fixture
async def small() -> AsyncIterator[UaTestServer]:
    server = await served(20)
    yield server
    await server.stop()


async def connected(server: UaTestServer) -> Client:
    # asyncua 2.x probes the server every watchdog_intervall (1 s) with a 1 s timeout; the
    # server shares this loop, which 10,000 items keep busy longer than that on a loaded machine
    client = Client(server.url, timeout=10, watchdog_intervall=30)
    await client.connect()
    return client


def specs(server: UaTestServer, count: int, **kwargs: object) -> list[ItemSpec]:
    return [ItemSpec(server.node(i), 0.0, **kwargs) for i in range(count)]  # type: ignore[arg-type]


async def test_changes_arrive_in_batches_indexed_like_the_items(small: UaTestServer) -> None:
    client = await connected(small)
    try:
        got = Collected()
        subs = await subscribe(client, specs(small, 20), 100.0, got)
        assert subs.failures == []
        assert len(subs.subscription_ids) == 1
        await got.until(lambda: len(got.latest) == 20)  # the initial values
        await small.write_all(100.0)
        await got.until(lambda: all(got.value(i) == 100.0 + i for i in range(20)))
        assert max(got.batch_sizes) > 1  # a publish cycle is one call, not one per value
        await subs.delete()
    finally:
        await client.disconnect()


async def test_monitored_items_are_created_within_max_monitored_items_per_call() -> None:
    server = await served(120, max_per_call=50)
    client = await connected(server)
    try:
        assert await read_max_monitored_items_per_call(client) == 50
        got = Collected()
        subs = await subscribe(client, specs(server, 120), 100.0, got)
        assert subs.failures == []
        assert server.create_calls == [50, 50, 20]
        assert subs.create_calls == 3
        await server.write_all(7.0)
        await got.until(lambda: all(got.value(i) == 7.0 + i for i in range(120)))
    finally:
        await client.disconnect()
        await server.stop()


async def test_without_a_limit_the_items_go_in_one_call(small: UaTestServer) -> None:
    client = await connected(small)
    try:
        assert await read_max_monitored_items_per_call(client) is None or small.max_per_call == 0
        subs = await subscribe(client, specs(small, 20), 100.0, Collected(), max_items_per_call=0)
        assert small.create_calls == [20]
        subs2 = await subscribe(
            client, specs(small, 20), 100.0, Collected(), max_items_per_subscription=8
        )
        assert len(subs2.subscription_ids) == 3
        assert small.create_calls[1:] == [8, 8, 4]
        await subs.delete()
        await subs2.delete()
    finally:
        await client.disconnect()


async def test_10000_monitored_items_deliver_every_change() -> None:
    count = 10_000
    server = await served(count, max_per_call=1000)
    client = await connected(server)
    try:
        got = Collected()
        subs = await subscribe(client, specs(server, count), 200.0, got)
        assert subs.failures == []
        assert subs.create_calls == 10
        await got.until(lambda: len(got.latest) == count)
        await server.write_all(1000.0)
        await got.until(lambda: all(got.value(i) == 1000.0 + i for i in range(count)))
    finally:
        await client.disconnect()
        await server.stop()


async def test_an_unknown_node_is_reported_alone_and_the_others_keep_working(
    small: UaTestServer,
) -> None:
    client = await connected(small)
    try:
        items = specs(small, 5)
        items[3] = ItemSpec(ua.NodeId(ua.String("no-such-node"), ua.Int16(small.ns)), 0.0)
        got = Collected()
        subs = await subscribe(client, items, 100.0, got)
        assert subs.failures == [ItemFailure(3, "BadNodeIdUnknown")]
        await small.write_all(50.0, range(5))
        await got.until(lambda: all(got.value(i) == 50.0 + i for i in (0, 1, 2, 4)))
        assert 3 not in got.latest
    finally:
        await client.disconnect()


async def test_an_absolute_deadband_filters_small_changes(small: UaTestServer) -> None:
    client = await connected(small)
    try:
        items = [
            ItemSpec(small.node(0), 0.0, deadband=Deadband("absolute", 5.0)),
            ItemSpec(small.node(1), 0.0),
        ]
        got = Collected()
        subs = await subscribe(client, items, 50.0, got)
        assert subs.failures == []
        await got.until(lambda: len(got.latest) == 2)
        await small.write_all(1.0, range(2))  # v0 = 1 (inside the deadband), v1 = 2
        await got.until(lambda: got.value(1) == 2.0)
        await small.write_all(10.0, range(2))  # v0 = 10 (outside), v1 = 11
        await got.until(lambda: got.value(0) == 10.0 and got.value(1) == 11.0)
        assert got.seen[0] == [0.0, 10.0]
        assert got.seen[1] == [0.0, 2.0, 11.0]
    finally:
        await client.disconnect()


async def test_a_percent_deadband_is_sent_to_the_server_as_requested(small: UaTestServer) -> None:
    """Whether a percent deadband applies (it needs the node's EURange) is the server's call:
    asyncua's server accepts it (without implementing it); a server that refuses it answers
    per item, like the unknown node above."""
    client = await connected(small)
    try:
        items = [ItemSpec(small.node(0), 0.0, deadband=Deadband("percent", 10.0))]
        items.append(ItemSpec(small.node(1), 0.0))
        got = Collected()
        subs = await subscribe(client, items, 50.0, got)
        assert subs.failures == []
        assert small.server is not None
        (sub,) = small.server.iserver.subscription_service.subscriptions.values()
        filters = [m.filter for m in sub.monitored_item_srv._monitored_items.values()]
        percent = [f for f in filters if hasattr(f, "DeadbandType")]
        assert [(f.DeadbandType, f.DeadbandValue) for f in percent] == [
            (ua.DeadbandType.Percent.value, 10.0)
        ]
        await got.until(lambda: len(got.latest) == 2)
    finally:
        await client.disconnect()
