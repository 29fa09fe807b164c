"""pymodbus's own RTU servers for the bus tests: a `ModbusSerialServer` on one end of a pty
pair, or a `ModbusTcpServer` with RTU framing on 127.0.0.1, serving the simulator's
`RegisterBank` (its units, register maps and per-unit faults).

As on a real RS-485 line, a unit id nobody serves stays silent (no exception 11), the units
answer one request at a time, in order (a slow answer delays the next one), and every
request each unit received is counted (`requests`) and listed in order (`order`), so that
tests can say how much bus time a unit cost. A slow answer goes out with the id of its own
request.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from simulators.modbus_server import RegisterBank, UnitSilent


class _Handler(ServerRequestHandler):
    async def handle_request(self) -> None:
        pdu, addr = self.last_pdu, self.last_addr  # pymodbus reads them again after awaiting
        if not pdu:
            return
        server = self.server
        server.requests[pdu.dev_id] += 1
        server.order.append(pdu.dev_id)
        unit = server.context.units.get(pdu.dev_id)
        if unit is None or unit.faults.silent:
            return  # nobody with that id on the line, or a unit that stopped answering
        async with server.one_at_a_time:
            try:
                response = await pdu.datastore_update(server.context, pdu.dev_id)
            except (NoSuchIdException, UnitSilent):  # fell silent during its delay
                return
        response.transaction_id = pdu.transaction_id
        response.dev_id = pdu.dev_id
        self.server_send(response, addr)


def _new_handler(server: Any) -> ServerRequestHandler:
    return _Handler(server, server.trace_packet, server.trace_pdu, server.trace_connect)


class _Serial(ModbusSerialServer):
    requests: Counter[int]
    order: list[int]
    one_at_a_time: asyncio.Lock

    def callback_new_connection(self) -> ServerRequestHandler:
        return _new_handler(self)


class _RtuTcp(ModbusTcpServer):
    requests: Counter[int]
    order: list[int]
    one_at_a_time: asyncio.Lock

    def callback_new_connection(self) -> ServerRequestHandler:
        return _new_handler(self)


def _placeholder() -> SimDevice:
    return SimDevice(0, simdata=[SimData(0, values=0, datatype=SimType.REGISTERS)])


async def serve_serial(
    bank: RegisterBank, port: str, framer: FramerType = FramerType.RTU
) -> ModbusSerialServer:
    """Serve `bank` on the serial device `port`; `await server.shutdown()` to stop."""
    server = _Serial(_placeholder(), framer=framer, port=port, baudrate=19200, parity="N")
    server.requests, server.order, server.one_at_a_time = Counter(), [], asyncio.Lock()
    server.context = bank  # type: ignore[assignment]
    await server.serve_forever(background=True)
    return server


async def serve_rtu_tcp(bank: RegisterBank, port: int = 0) -> tuple[ModbusTcpServer, int]:
    """Serve `bank` with RTU framing over TCP on 127.0.0.1 (port 0: a free one): the server
    and its port."""
    server = _RtuTcp(_placeholder(), framer=FramerType.RTU, address=("127.0.0.1", port))
    server.requests, server.order, server.one_at_a_time = Counter(), [], asyncio.Lock()
    server.context = bank  # type: ignore[assignment]
    await server.serve_forever(background=True)
    port = server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    return server, port
