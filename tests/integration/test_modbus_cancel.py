"""A Modbus collector stops when its task is cancelled, whenever the cancel comes: also in
the turn of the loop in which an answer arrives, where Python 3.11's `asyncio.wait_for`
(pymodbus waits for its answers with it) returns the answer and drops the cancel."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.collectors.modbus.bus import ModbusBus
from gateway.collectors.modbus.collector import ModbusConnection
from gateway.collectors.modbus.compile import compile_connections
from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.modbus.types import Space
from gateway.model import Batch
from simulators.modbus_server import RegisterBank, start_modbus_server
from tests.busplan import bus_plan, device
from tests.busserver import serve_rtu_tcp
from tests.integration.test_modbus_bus import bank_of
from tests.tasks import ended

pytestmark = pytest.mark.integration


async def ignore(batch: Batch) -> None:
    pass


def cancel_as_an_answer_arrives(ctx: Any, task: asyncio.Task[None]) -> list[bytes]:
    """Cancel `task` once, right after the bytes that complete pymodbus's pending answer
    were received (before the read awaiting it resumed); the bytes, when it happened."""
    received = ctx.data_received
    completed: list[bytes] = []

    def data_received(data: bytes) -> None:
        received(data)
        pending = getattr(ctx, "response_future", None)
        if not completed and pending is not None and pending.done():
            completed.append(data)
            task.cancel()

    ctx.data_received = data_received
    return completed


async def test_a_bus_cancelled_as_an_answer_arrives_stops():
    server, port = await serve_rtu_tcp(bank_of(1))
    line = Endpoint("modbus+rtu-tcp", "127.0.0.1", port)
    bus = ModbusBus(bus_plan(line, [device(1, scan_rate=0.1)]), ignore)
    task = asyncio.create_task(bus.run())
    completed = cancel_as_an_answer_arrives(bus.bus.client.ctx, task)
    try:
        await ended(task, "the bus cancelled as an answer arrived")
    finally:
        await server.shutdown()
    assert len(completed) == 1
    assert task.cancelled()


async def test_a_tcp_connection_cancelled_as_an_answer_arrives_stops():
    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [1])
    server = await start_modbus_server(bank)
    tag = {"name": "x", "space": "holding_register", "address": 0}
    dev = {"name": "u1", "endpoint": server.endpoint, "unit_id": 1, "scan_rate": 0.1}
    (plan,) = compile_connections((ModbusDevice.model_validate({**dev, "tags": [tag]}),))
    connection = ModbusConnection(plan, ignore)
    task = asyncio.create_task(connection.run())
    completed = cancel_as_an_answer_arrives(connection.link.client.ctx, task)
    try:
        await ended(task, "the Modbus TCP connection cancelled as an answer arrived")
    finally:
        await server.stop()
    assert len(completed) == 1
    assert task.cancelled()
