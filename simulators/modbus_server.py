"""A Modbus TCP server over plain register banks, with fault injection.

`RegisterBank` holds the four spaces of each unit id as dicts (address -> value); anything not
set answers "illegal data address", like a real PLC. The pymodbus server is started on any
port (0 = a free one) and serves the banks through a small datastore object; faults (an
exception code, a slow or missing answer) can be set per unit while it runs.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.pdu import ExceptionResponse
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType as SimType
from pymodbus.simulator import SimData, SimDevice

from gateway.collectors.modbus.types import Space

_SPACE_OF_FUNCTION = {
    1: Space.COIL,
    5: Space.COIL,
    15: Space.COIL,
    2: Space.DISCRETE_INPUT,
    3: Space.HOLDING_REGISTER,
    6: Space.HOLDING_REGISTER,
    16: Space.HOLDING_REGISTER,
    22: Space.HOLDING_REGISTER,
    23: Space.HOLDING_REGISTER,
    4: Space.INPUT_REGISTER,
}


@dataclass
class UnitFaults:
    """Faults of one unit id: applied to every request it receives."""

    exception: int | None = None  # answer with this Modbus exception code
    delay: float = 0.0  # answer this many seconds late
    silent: bool = False  # never answer (the request is dropped: nothing is written)


class UnitSilent(Exception):
    """Raised for a request to a silent unit: the server drops it and sends nothing, rather
    than keeping a task waiting for ever on every such request."""


@dataclass
class Unit:
    """The four register spaces of one unit id."""

    spaces: dict[Space, dict[int, int]] = field(
        default_factory=lambda: {space: {} for space in Space}
    )
    faults: UnitFaults = field(default_factory=UnitFaults)

    def set(self, space: Space, address: int, values: Iterable[int | bool]) -> None:
        """Write consecutive values starting at `address`."""
        bank = self.spaces[space]
        for offset, value in enumerate(values):
            bank[address + offset] = int(value)

    def get(self, space: Space, address: int, count: int) -> list[int] | None:
        """Consecutive values, or None when any address is not defined."""
        bank = self.spaces[space]
        try:
            return [bank[a] for a in range(address, address + count)]
        except KeyError:
            return None


class RegisterBank:
    """Units by id; the datastore the server reads and writes (pymodbus context protocol)."""

    def __init__(self) -> None:
        self.units: dict[int, Unit] = {}
        # the last client writes (unit, space, address, values), for tests; bounded
        self.writes: deque[tuple[int, Space, int, list[int]]] = deque(maxlen=1000)

    def unit(self, unit_id: int) -> Unit:
        """The unit with this id, created empty when new."""
        return self.units.setdefault(unit_id, Unit())

    def device_ids(self) -> list[int]:
        return list(self.units)

    async def _faulted(self, unit: Unit) -> ExcCodes | None:
        faults = unit.faults
        if faults.silent:
            raise UnitSilent
        if faults.delay:
            await asyncio.sleep(faults.delay)
            if faults.silent:  # fell silent meanwhile
                raise UnitSilent
        return ExcCodes(faults.exception) if faults.exception else None

    def known_unit(self, unit_id: int) -> Unit:
        """The unit with this id; NoSuchIdException when there is none."""
        if unit_id not in self.units:
            raise NoSuchIdException(f"unit {unit_id} is not defined")
        return self.units[unit_id]

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        unit = self.known_unit(device_id)
        if (fault := await self._faulted(unit)) is not None:
            return fault
        return self.read(unit, func_code, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int | bool]
    ) -> ExcCodes | None:
        unit = self.known_unit(device_id)
        if (fault := await self._faulted(unit)) is not None:
            return fault
        return self.store(device_id, func_code, address, values)

    def read(
        self, unit: Unit, func_code: int, address: int, count: int
    ) -> list[int] | list[bool] | ExcCodes:
        """A read of `unit`, faults aside."""
        space = _SPACE_OF_FUNCTION[func_code]
        values = unit.get(space, address, count)
        if values is None:
            return ExcCodes.ILLEGAL_ADDRESS
        return [bool(v) for v in values] if space.is_bit else values

    def store(
        self, device_id: int, func_code: int, address: int, values: Sequence[int | bool]
    ) -> ExcCodes | None:
        """A write to unit `device_id`, faults aside."""
        unit = self.known_unit(device_id)
        space = _SPACE_OF_FUNCTION[func_code]
        if unit.get(space, address, len(values)) is None:
            return ExcCodes.ILLEGAL_ADDRESS
        if (refused := self.accept(device_id, space, address, values)) is not None:
            return refused
        unit.set(space, address, values)
        self.writes.append((device_id, space, address, [int(v) for v in values]))
        return None

    def accept(
        self, device_id: int, space: Space, address: int, values: Sequence[int | bool]
    ) -> ExcCodes | None:
        """Hook: refuse a write (nothing is stored) by returning an exception code."""
        return None


class BroadcastBank:
    """The bank as a broadcast write (unit 0, RTU) sees it, one unit after the other at once:
    a broadcast has no answer to hold back or withhold, so neither `delay` nor `silent`
    applies (a unit that cannot answer still hears the line); an exception fault refuses it
    as it refuses every request."""

    def __init__(self, bank: RegisterBank) -> None:
        self.bank = bank

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        return self.bank.read(self.bank.known_unit(device_id), func_code, address, count)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[int | bool]
    ) -> ExcCodes | None:
        if exception := self.bank.known_unit(device_id).faults.exception:
            return ExcCodes(exception)
        return self.bank.store(device_id, func_code, address, values)


class _OwnIdsHandler(ServerRequestHandler):
    """pymodbus 3.16's handler reads `self.last_pdu` again after awaiting the datastore, so a
    slow answer went out with the transaction and unit id of the request that arrived
    meanwhile. This one keeps each request's own PDU and address."""

    async def handle_request(self) -> None:
        pdu, addr = self.last_pdu, self.last_addr
        if not pdu:
            return
        try:
            response = await pdu.datastore_update(self.server.context, pdu.dev_id)
        except UnitSilent:
            return
        except NoSuchIdException:
            response = ExceptionResponse(pdu.function_code, ExcCodes.GATEWAY_NO_RESPONSE)
        except Exception:  # the datastore failed: answer like a PLC would
            response = ExceptionResponse(pdu.function_code, ExcCodes.DEVICE_FAILURE)
        response.transaction_id = pdu.transaction_id
        response.dev_id = pdu.dev_id
        self.server_send(response, addr)


class _Server(ModbusTcpServer):
    def callback_new_connection(self) -> ServerRequestHandler:
        return _OwnIdsHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class ModbusServerHandle:
    """A running server: its port, and stop()."""

    def __init__(self, server: ModbusTcpServer, bank: RegisterBank) -> None:
        self.server = server
        self.bank = bank
        sockets = server.transport.sockets  # type: ignore[attr-defined]
        self.host, self.port = sockets[0].getsockname()[:2]

    @property
    def endpoint(self) -> str:
        """The endpoint URL a tag map uses to reach this server."""
        return f"modbus+tcp://{self.host}:{self.port}"

    async def stop(self) -> None:
        """Stop listening and close every client connection."""
        await self.server.shutdown()


async def start_modbus_server(
    bank: RegisterBank, host: str = "127.0.0.1", port: int = 0
) -> ModbusServerHandle:
    """Serve `bank` over Modbus TCP; port 0 picks a free port (see handle.port)."""
    placeholder = SimDevice(0, simdata=[SimData(0, values=0, datatype=SimType.REGISTERS)])
    server = _Server(placeholder, address=(host, port))
    # pymodbus 3.16 reads and writes through `server.context` (async_getValues,
    # async_setValues, device_ids); serve our banks through that protocol.
    server.context = bank  # type: ignore[assignment]
    await server.serve_forever(background=True)
    return ModbusServerHandle(server, bank)
