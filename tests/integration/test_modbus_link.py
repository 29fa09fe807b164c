"""The Modbus link on 127.0.0.1: a peer that closes the connection, and connect errors that
say what went wrong (refused, name resolution, timed out)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.collectors.devicestate import State
from gateway.collectors.modbus.collector import ModbusConnection
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.models import ModbusDevice
from gateway.model import Quality

pytestmark = pytest.mark.integration


def connection(endpoint: str, **extra) -> ModbusConnection:
    device = ModbusDevice.model_validate(
        {
            "name": "rect",
            "endpoint": endpoint,
            "timeout": 5.0,
            "retries": 2,
            "demote_after": 1,
            "tags": [
                {"name": "setpoint", "space": "holding_register", "address": 0},
                {"name": "current", "space": "input_register", "address": 0},
            ],
            **extra,
        }
    )
    (plan,) = compile_connections((device,))
    return ModbusConnection(plan, lambda _: None, backoff=(30.0, 60.0))


@pytest.fixture
async def closing_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """A TCP server that reads one request and closes the connection without answering."""
    received: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(260))
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"modbus+tcp://127.0.0.1:{port}", received
    server.close()
    await server.wait_closed()


async def test_a_peer_that_closes_the_connection_is_a_lost_link_not_a_timeout(closing_server):
    endpoint, received = closing_server
    conn = connection(endpoint)
    try:
        samples = await conn.scan(conn.plan.scans[0])
        assert received  # the request was sent, and the server closed instead of answering
        assert {s.quality for s in samples} == {Quality.BAD}
        reasons = {s.reason for s in samples}
        assert "connection closed by the peer" in reasons  # the request in flight
        assert all("closed by the peer" in r for r in reasons)  # and the rest of the scan
        assert not any("no response" in r for r in reasons)
        stats = conn.devices["rect"]
        assert stats.state is State.UP  # a lost link never counts toward demotion
        assert conn.health["rect"].failures == 0
        assert conn.stats.connect_failures == 1
        # the next scan waits for the backoff instead of reconnecting at once
        again = await conn.scan(conn.plan.scans[0])
        assert {s.reason for s in again} == {"not connected: connection closed by the peer"}
        assert conn.stats.connects == 1
        assert stats.skipped_scans == 0
    finally:
        conn.close()


async def test_a_peer_that_keeps_closing_is_logged_down_once(closing_server, caplog):
    """Each reconnect succeeds at TCP level and is closed at the first request: that is one
    outage (one WARNING), not a connected/down pair per attempt."""
    from gateway.testing import FakeClock

    endpoint, received = closing_server
    caplog.set_level(logging.INFO, logger="gateway.collectors.modbus")
    clock = FakeClock()
    device = connection(endpoint).plan
    conn = ModbusConnection(device, lambda _: None, clock, backoff=(1.0, 1.0))
    try:
        for _ in range(4):
            await conn.scan(conn.plan.scans[0])
            clock.advance(2.0)  # past the backoff: the next scan reconnects
    finally:
        conn.close()
    assert len(received) == 4  # it did reconnect every time
    messages = [r.getMessage() for r in caplog.records]
    assert [m for m in messages if " down: " in m] == [
        f"Modbus {conn.name} down: connection closed by the peer; retrying with backoff."
    ]
    assert len([m for m in messages if "connected." in m]) <= 1, messages


async def test_a_close_between_scans_is_a_lost_link_too():
    """The server accepts and closes at once, before any request: the scan reports the
    close (wherever it lands: before the request or while it is in flight), not a timeout."""

    async def close_at_once(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(close_at_once, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = connection(f"modbus+tcp://127.0.0.1:{port}")
    try:
        samples = await conn.scan(conn.plan.scans[0])
        assert {s.quality for s in samples} == {Quality.BAD}
        assert all("closed by the peer" in s.reason for s in samples), samples
        assert conn.devices["rect"].state is State.UP
        assert conn.health["rect"].failures == 0
    finally:
        conn.close()
        server.close()
        await server.wait_closed()


@pytest.fixture
def refused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_refused_connection_says_refused_with_host_and_port(refused_port, caplog):
    caplog.set_level(logging.DEBUG, logger="gateway.collectors.modbus")
    conn = connection(f"modbus+tcp://127.0.0.1:{refused_port}")
    try:
        samples = await conn.scan(conn.plan.scans[0])
    finally:
        conn.close()
    expected = (
        f"not connected: connection refused by 127.0.0.1:{refused_port} "
        "(nothing listens on that port)"
    )
    assert {s.reason for s in samples} == {expected}
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any("ConnectionRefusedError errno 111" in m for m in debug), debug


async def test_an_unresolvable_host_says_name_resolution_failed():
    conn = connection("modbus+tcp://nonexistent.invalid:502", timeout=3.0)
    try:
        samples = await conn.scan(conn.plan.scans[0])
    finally:
        conn.close()
    (reason,) = {s.reason for s in samples}
    assert reason.startswith("not connected: name resolution failed for nonexistent.invalid:502")


@pytest.fixture
def backlogged_port() -> Iterator[int]:
    """A listening port on 127.0.0.1 whose accept queue is full: a new connect hangs (the
    kernel drops its SYN), as with a host that does not answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


async def test_a_connect_nobody_answers_says_timed_out(backlogged_port):
    conn = connection(f"modbus+tcp://127.0.0.1:{backlogged_port}", timeout=0.3)
    try:
        samples = await conn.scan(conn.plan.scans[0])
    finally:
        conn.close()
    assert {s.reason for s in samples} == {
        f"not connected: connection to 127.0.0.1:{backlogged_port} timed out after 0.3s"
    }
