"""The simulated plant's Modbus PLC, read with a plain pymodbus client.

Values are decoded here with pymodbus's own convert_from_registers (plus a manual byte swap),
not with our codec, so a symmetric bug in the codec cannot hide.
"""

from __future__ import annotations

import asyncio
import struct

import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException

from gateway.collectors.modbus.types import ByteOrder, DataType, Space, register_count
from simulators.catalog import CellState, FeedMode
from simulators.modbus_plc import ModbusPlc
from simulators.process.plant import Plant
from simulators.registermap import REGISTERS, Register, unit_of

pytestmark = pytest.mark.integration
DT = AsyncModbusTcpClient.DATATYPE
PYMODBUS_TYPE = {
    DataType.INT16: DT.INT16,
    DataType.UINT16: DT.UINT16,
    DataType.UINT32: DT.UINT32,
    DataType.UINT64: DT.UINT64,
    DataType.FLOAT32: DT.FLOAT32,
    DataType.FLOAT64: DT.FLOAT64,
}


def independent_decode(reg: Register, registers: list[int]) -> object:
    """Decode with pymodbus (word order) after swapping bytes by hand where the order says."""
    if reg.dtype is DataType.STRING:
        raw = b"".join(struct.pack(">H", r) for r in registers)
        return raw.split(b"\0")[0].decode()
    words = list(registers)
    if reg.order in (ByteOrder.BADC, ByteOrder.DCBA):
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    order = "little" if reg.order in (ByteOrder.CDAB, ByteOrder.DCBA) else "big"
    value = AsyncModbusTcpClient.convert_from_registers(words, PYMODBUS_TYPE[reg.dtype], order)
    return value * reg.factor if reg.scaled else value  # type: ignore[operator]


async def read(client, unit: int, reg: Register):
    count = register_count(reg.dtype, reg.length)
    readers = {
        Space.COIL: client.read_coils,
        Space.DISCRETE_INPUT: client.read_discrete_inputs,
        Space.HOLDING_REGISTER: client.read_holding_registers,
        Space.INPUT_REGISTER: client.read_input_registers,
    }
    response = await readers[reg.space](reg.address, count=count, device_id=unit)
    assert not response.isError(), (reg, response)
    return response.bits[0] if reg.space.is_bit else response.registers


@pytest.fixture
async def plc():
    plant = Plant(cells=2, seed=7)
    for _ in range(120):
        plant.step(1.0)
    server = ModbusPlc(plant, port=0)
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=2, retries=0)
    await client.connect()
    yield server, client
    client.close()
    await server.stop()


def expected_match(reg: Register, got: object, truth: object) -> None:
    if reg.dtype is DataType.FLOAT32:
        assert got == struct.unpack(">f", struct.pack(">f", truth))[0], reg  # exact float32
    elif reg.scaled:
        assert abs(got - truth) <= reg.factor / 2 + 1e-9, (reg, got, truth)  # type: ignore[operator]
    elif reg.dtype is DataType.BOOL:
        assert got == bool(truth), reg
    else:
        assert got == truth, (reg, got, truth)


async def test_every_register_decodes_to_the_ground_truth(plc):
    server, client = plc
    plant = server.plant
    checked = 0
    for device in plant.device_names():
        truth = plant.values(device)
        for reg in REGISTERS[plant.kind(device)]:
            raw = await read(client, unit_of(device), reg)
            got = raw if reg.space.is_bit else independent_decode(reg, raw)
            expected_match(reg, got, truth[reg.tag])
            checked += 1
    assert checked == 2 * (len(REGISTERS["cell"]) + len(REGISTERS["feeder"])) + len(
        REGISTERS["rectifier"]
    )


async def test_coil_write_taps_the_cell(plc):
    server, client = plc
    response = await client.write_coil(0, True, device_id=1)
    assert not response.isError()
    assert server.plant.values("cell01")["state"] == CellState.TAPPING


async def test_holding_register_writes_act_on_the_plant(plc):
    server, client = plc
    await client.write_register(200, int(FeedMode.MANUAL), device_id=1)
    assert server.plant.values("cell01_feeder")["mode"] == FeedMode.MANUAL
    words = AsyncModbusTcpClient.convert_to_registers(6.5, DT.FLOAT32)
    await client.write_registers(0, words, device_id=100)
    assert server.plant.values("rectifier")["line_current_sp"] == pytest.approx(6.5)


async def test_invalid_setpoint_is_refused_with_illegal_value(plc):
    server, client = plc
    before = (await client.read_holding_registers(200, count=1, device_id=1)).registers
    response = await client.write_register(200, 99, device_id=1)  # no such feed mode
    assert response.isError()
    assert response.exception_code == 3
    assert server.plant.values("cell01_feeder")["mode"] != 99
    after = (await client.read_holding_registers(200, count=1, device_id=1)).registers
    assert after == before  # the refused value was not stored either


@pytest.mark.parametrize("code", [2, 4, 6, 11])
async def test_exception_responses(plc, code):
    server, client = plc
    server.faults("cell02").exception = code
    response = await client.read_input_registers(0, count=2, device_id=2)
    assert response.isError()
    assert response.exception_code == code
    ok = await client.read_input_registers(0, count=2, device_id=1)  # other units unaffected
    assert not ok.isError()


async def test_slow_and_silent_units(plc):
    server, client = plc
    server.faults("cell01").delay = 0.3
    loop = asyncio.get_running_loop()
    began = loop.time()
    response = await client.read_input_registers(0, count=2, device_id=1)
    assert not response.isError()
    assert loop.time() - began >= 0.3
    server.faults("cell01").delay = 0
    server.faults("cell01").silent = True
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=1)


async def test_requests_to_a_silent_unit_leave_no_task_behind(plc):
    server, client = plc
    server.faults("cell02").silent = True
    tasks = len(asyncio.all_tasks())
    for _ in range(20):  # the client closes its connection after a timeout: one each
        quick = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=0.05, retries=0)
        assert await quick.connect()
        try:
            with pytest.raises(ModbusIOException):
                await quick.read_input_registers(0, count=2, device_id=2)
        finally:
            quick.close()
    assert not (await client.read_input_registers(0, count=2, device_id=1)).isError()
    assert len(asyncio.all_tasks()) <= tasks + 2  # not one more per request


async def test_dropped_connections_and_restart(plc):
    server, client = plc
    await server.drop_connections()
    for _ in range(100):  # bounded: the client sees the close within a few loop turns
        if not client.connected:
            break
        await asyncio.sleep(0.01)
    assert not client.connected
    port = server.port
    await server.restart(0.1)
    assert server.port == port
    again = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=2, retries=0)
    assert await again.connect()
    response = await again.read_input_registers(0, count=2, device_id=100)
    assert not response.isError()
    again.close()


async def test_a_late_answer_never_carries_another_requests_ids():
    """A slow unit answers after the client gave up; that late answer must keep its own
    transaction and unit id, so it can never be taken for the answer to the next request."""
    from simulators.modbus_server import RegisterBank, start_modbus_server

    bank = RegisterBank()
    bank.unit(1).set(Space.HOLDING_REGISTER, 0, [111])
    bank.unit(2).set(Space.HOLDING_REGISTER, 0, [222])
    bank.unit(1).faults.delay = 0.6
    bank.unit(2).faults.delay = 0.15  # unit 1's late answer comes while unit 2's is awaited
    server = await start_modbus_server(bank)
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=0.5, retries=0)
    await client.connect()
    seen = []
    try:
        with pytest.raises(ModbusIOException):
            await client.read_holding_registers(0, count=1, device_id=1)
        for _ in range(3):
            try:
                response = await client.read_holding_registers(0, count=1, device_id=2)
            except ModbusIOException:
                continue  # the late answer of unit 1 arrived instead: refused, as it must be
            seen.append(response.registers[0])
    finally:
        client.close()
        await server.stop()
    assert seen
    assert set(seen) == {222}
