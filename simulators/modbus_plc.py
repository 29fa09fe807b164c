"""The Modbus TCP face of the simulated plant (default port 5020), and its Modbus RTU faces
(serial lines, RTU over TCP; see rtu_server.py) over the same registers.

`publish()` encodes the plant's current values into the register banks (see registermap.py);
client writes to coils and holding registers act on the plant (tap request, feed mode,
line-current setpoint, trip reset). Faults: exception responses, slow or missing answers per
unit, dropped connections, server restart; with `sensors`, the data-quality faults of
sensorfaults.py change the values the registers report (not the plant's).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from pymodbus.constants import ExcCodes

from gateway.collectors.modbus.codec import decode, encode
from gateway.collectors.modbus.types import DataType, Space, register_count
from simulators.modbus_server import (
    ModbusServerHandle,
    RegisterBank,
    UnitFaults,
    start_modbus_server,
)
from simulators.process.plant import Plant
from simulators.registermap import REGISTERS, Register, unit_of
from simulators.rtu_responder import RtuResponder, RtuStats
from simulators.rtu_server import RtuConfig, RtuTcpServer, SerialRtuLine
from simulators.sensorfaults import SensorFaults

_UNSET = object()
_LIMITS = {
    DataType.INT16: (-32768, 32767),
    DataType.UINT16: (0, 65535),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


def to_registers(reg: Register, value: object) -> list[int]:
    """Encode an engineering value as the register map says (scaled integers are clamped)."""
    if reg.dtype is DataType.BOOL:
        return [int(bool(value))]
    if reg.dtype is DataType.STRING:
        return encode(str(value), reg.dtype, reg.order, length=reg.length)
    if reg.dtype in _LIMITS:
        low, high = _LIMITS[reg.dtype]
        raw = round(float(value) / reg.factor)  # type: ignore[arg-type]
        return encode(min(high, max(low, raw)), reg.dtype, reg.order)
    return encode(float(value), reg.dtype, reg.order)  # type: ignore[arg-type]


def from_registers(reg: Register, registers: Sequence[int]) -> int | float | bool | str:
    """Decode a register map entry back into an engineering value."""
    if reg.dtype is DataType.BOOL:
        return bool(registers[0])
    raw = decode(registers, reg.dtype, reg.order)
    return raw * reg.factor if reg.scaled else raw  # type: ignore[operator]


class PlantBank(RegisterBank):
    """Register banks whose writable registers act on the plant."""

    def __init__(self, plant: Plant, devices: Sequence[str]) -> None:
        super().__init__()
        self.plant = plant
        self.writable: dict[tuple[int, Space], list[tuple[str, Register]]] = {}
        for device in devices:
            for reg in REGISTERS[plant.kind(device)]:
                if reg.space in (Space.COIL, Space.HOLDING_REGISTER):
                    self.writable.setdefault((unit_of(device), reg.space), []).append((device, reg))

    def accept(
        self, device_id: int, space: Space, address: int, values: Sequence[int | bool]
    ) -> ExcCodes | None:
        """Hand the writable tags a write touches to the plant; a refusal stores nothing."""
        end = address + len(values)
        for device, reg in self.writable.get((device_id, space), []):
            width = register_count(reg.dtype, reg.length)
            if reg.address < end and address < reg.address + width:
                registers = self.unit(device_id).get(space, reg.address, width) or []
                for offset in range(reg.address, reg.address + width):  # the registers after
                    if address <= offset < end:  # the write, without storing them yet
                        registers[offset - reg.address] = int(values[offset - address])
                try:
                    self.plant.write(device, reg.tag, from_registers(reg, registers))
                except ValueError:
                    return ExcCodes.ILLEGAL_VALUE
        return None


class ModbusPlc:
    """The plant's devices (default: all) as Modbus TCP units, and with `rtu` also as RTU
    units on serial lines and over TCP (same unit ids, same registers, same faults)."""

    def __init__(
        self,
        plant: Plant,
        host: str = "127.0.0.1",
        port: int = 5020,
        devices: Sequence[str] | None = None,
        rtu: RtuConfig | None = None,
        sensors: SensorFaults | None = None,
    ) -> None:
        self.plant = plant
        self.sensors = sensors  # data-quality faults: what the registers report
        self.host = host
        self.port = port
        self.devices = list(devices) if devices is not None else plant.device_names()
        self.bank = PlantBank(plant, self.devices)
        self.handle: ModbusServerHandle | None = None
        self.rtu = rtu or RtuConfig()
        self.responder = RtuResponder(self.bank, self.rtu.corrupt, self.rtu.seed)
        self.rtu_tcp_port = self.rtu.tcp_port
        self._lines: list[SerialRtuLine] = []
        self._rtu_tcp: RtuTcpServer | None = None
        self._published: dict[str, dict[str, object]] = {}  # device -> tag -> value served
        self.publish()

    @property
    def endpoint(self) -> str:
        return f"modbus+tcp://{self.host}:{self.port}"

    @property
    def rtu_endpoints(self) -> list[str]:
        """The serial lines served, e.g. `modbus+rtu:///tmp/plc-b`."""
        return [f"modbus+rtu://{device}" for device in self.rtu.devices]

    @property
    def rtu_tcp_endpoint(self) -> str | None:
        if self.rtu_tcp_port is None:
            return None
        return f"modbus+rtu-tcp://{self.host}:{self.rtu_tcp_port}"

    @property
    def rtu_stats(self) -> RtuStats:
        """RTU answers sent and damaged so far (every transport, across restarts)."""
        return self.responder.stats

    @property
    def rtu_pending(self) -> int:
        """RTU answers being prepared or paced now, over every transport (for tests: a
        request nobody answers leaves nothing behind)."""
        sessions = [line.session for line in self._lines]
        if self._rtu_tcp is not None:
            sessions += self._rtu_tcp.sessions
        return sum(session.pending for session in sessions if session is not None)

    async def start(self) -> None:
        """Listen (port 0 picks a free port, then `port` tells which) and open the RTU lines;
        a line that cannot be opened raises (OSError) with nothing left running."""
        self.handle = await start_modbus_server(self.bank, self.host, self.port)
        self.port = self.handle.port
        try:
            await self._start_rtu()
        except BaseException:
            await self.stop()
            raise

    async def _start_rtu(self) -> None:
        rtu = self.rtu
        for device in rtu.devices:
            line = SerialRtuLine(device, self.responder, rtu.line, rtu.pace != "off")
            await line.start()
            self._lines.append(line)
        if self.rtu_tcp_port is not None:
            self._rtu_tcp = RtuTcpServer(self.responder, rtu.line, rtu.pace == "all")
            await self._rtu_tcp.start(self.host, self.rtu_tcp_port)
            self.rtu_tcp_port = self._rtu_tcp.port

    def publish(self) -> None:
        """Copy the plant's current values into the registers (only what changed)."""
        for device in self.devices:
            unit = self.bank.unit(unit_of(device))
            values: Mapping[str, object] = self.plant.values(device)
            if self.sensors is not None:
                values = self.sensors.reported(device, values, self.plant.t)
            last = self._published.setdefault(device, {})
            for reg in REGISTERS[self.plant.kind(device)]:
                value = values[reg.tag]
                if last.get(reg.tag, _UNSET) != value:
                    unit.set(reg.space, reg.address, to_registers(reg, value))
                    last[reg.tag] = value

    def faults(self, device: str) -> UnitFaults:
        """The fault switches of a device's unit (exception code, delay, silence)."""
        return self.bank.unit(unit_of(device)).faults

    async def drop_connections(self) -> None:
        """Close every client connection (clients must reconnect)."""
        if self.handle is not None:
            for connection in list(self.handle.server.active_connections.values()):
                connection.close()
        if self._rtu_tcp is not None:
            self._rtu_tcp.drop_connections()

    async def restart(self, down_for: float = 0.0) -> None:
        """Stop the servers (and close the serial lines), stay down for `down_for` seconds,
        serve again on the same ports and lines."""
        await self.stop()
        await asyncio.sleep(down_for)
        await self.start()

    async def stop(self) -> None:
        if self.handle is not None:
            await self.handle.stop()
            self.handle = None
        for line in self._lines:
            await line.stop()
        self._lines.clear()
        if self._rtu_tcp is not None:
            await self._rtu_tcp.stop()
            self._rtu_tcp = None
