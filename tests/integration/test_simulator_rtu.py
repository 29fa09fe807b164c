"""The simulated PLC over Modbus RTU: a serial line (a socat pty pair) and RTU over TCP, read
with plain pymodbus clients and compared with what its Modbus TCP server answers."""

from __future__ import annotations

import asyncio

import pytest
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ModbusIOException
from pymodbus.framer import FramerType

from gateway.collectors.modbus.types import Space
from simulators.catalog import FeedMode
from simulators.modbus_plc import ModbusPlc
from simulators.process.plant import Plant
from simulators.rtu_server import RtuConfig
from simulators.rtu_wire import Line

pytestmark = pytest.mark.integration
UNITS = (1, 2, 3, 100)
CELL_INPUTS = (0, 25)  # address, count of a cell's input registers
RECTIFIER_INPUTS = (0, 14)


def serial_client(device: str, timeout: float = 2.0) -> AsyncModbusSerialClient:
    # parity N: this machine's pty refuses a parity bit once set up (pyserial's second
    # tcsetattr fails with EINVAL); a pty carries the bytes either way
    return AsyncModbusSerialClient(
        device, baudrate=19200, parity="N", stopbits=1, bytesize=8, timeout=timeout, retries=0
    )


class OnLine:
    """Both ends of a pty line: the PLC on the device end, pymodbus clients on the other;
    everything started here is closed when the test ends."""

    def __init__(self, master: str, device: str) -> None:
        self.master, self.device = master, device
        self.plcs: list[ModbusPlc] = []
        self.clients: list[AsyncModbusSerialClient] = []

    async def plc(self, **config) -> ModbusPlc:
        plant = Plant(cells=3, seed=7)
        for _ in range(60):
            plant.step(1.0)
        plc = ModbusPlc(plant, port=0, rtu=RtuConfig(devices=(self.device,), **config))
        await plc.start()
        self.plcs.append(plc)
        return plc

    async def client(self, timeout: float = 2.0) -> AsyncModbusSerialClient:
        """A connected client on the master end."""
        client = serial_client(self.master, timeout)
        self.clients.append(client)
        assert await client.connect()
        return client

    async def close(self) -> None:
        for client in self.clients:
            client.close()
        for plc in self.plcs:
            await plc.stop()


@pytest.fixture
async def on_line(serial_line):
    on = OnLine(*serial_line)
    yield on
    await on.close()


@pytest.fixture
async def tcp_client():
    clients = []

    async def connect(plc: ModbusPlc) -> AsyncModbusTcpClient:
        client = AsyncModbusTcpClient("127.0.0.1", port=plc.port, timeout=2, retries=0)
        assert await client.connect()
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


async def inputs(client, unit: int) -> list[int]:
    address, count = RECTIFIER_INPUTS if unit == 100 else CELL_INPUTS
    response = await client.read_input_registers(address, count=count, device_id=unit)
    assert not response.isError(), (unit, response)
    return list(response.registers)


async def test_a_serial_client_reads_what_the_tcp_server_serves_for_every_unit(
    on_line, tcp_client
) -> None:
    plc = await on_line.plc(pace="off")
    tcp = await tcp_client(plc)
    client = await on_line.client()
    for unit in UNITS:
        assert await inputs(client, unit) == await inputs(tcp, unit)
    product = await client.read_holding_registers(100, count=4, device_id=2)
    assert (
        product.registers == (await tcp.read_holding_registers(100, count=4, device_id=2)).registers
    )
    bits = await client.read_discrete_inputs(200, count=1, device_id=3)
    assert not bits.isError()
    await plc.restart(0.1)  # the line is closed and opened again
    assert await inputs(client, 1) == plc.bank.unit(1).get(Space.INPUT_REGISTER, *CELL_INPUTS)
    assert plc.rtu_endpoints == [f"modbus+rtu://{on_line.device}"]


async def test_writes_over_the_serial_line_act_on_the_plant(on_line, tcp_client) -> None:
    plc = await on_line.plc(pace="off")
    tcp = await tcp_client(plc)
    client = await on_line.client()
    written = await client.write_register(200, int(FeedMode.MANUAL), device_id=2)
    assert not written.isError()
    assert plc.plant.values("cell02_feeder")["mode"] == FeedMode.MANUAL
    assert (await tcp.read_holding_registers(200, count=1, device_id=2)).registers == [2]
    refused = await client.write_register(200, 99, device_id=2)
    assert refused.isError()
    assert refused.exception_code == 3
    assert (await client.write_coil(0, True, device_id=1)).isError() is False
    assert (1, Space.COIL, 0, [1]) in plc.bank.writes


async def test_a_unit_not_on_the_line_does_not_answer(on_line) -> None:
    await on_line.plc(pace="off")
    client = await on_line.client(timeout=0.3)
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=50)
    assert len(await inputs(client, 1)) == 25  # the line is fine afterwards


async def test_rtu_over_tcp_serves_the_same_units(on_line, tcp_client) -> None:
    plc = await on_line.plc(tcp_port=0)
    tcp = await tcp_client(plc)
    assert plc.rtu_tcp_endpoint == f"modbus+rtu-tcp://127.0.0.1:{plc.rtu_tcp_port}"
    client = AsyncModbusTcpClient(
        "127.0.0.1", port=plc.rtu_tcp_port, framer=FramerType.RTU, timeout=2, retries=0
    )
    try:
        assert await client.connect()
        for unit in UNITS:
            assert await inputs(client, unit) == await inputs(tcp, unit)
        assert not (await client.write_register(200, 1, device_id=1)).isError()
        assert plc.plant.values("cell01_feeder")["mode"] == FeedMode.AUTO_RESISTANCE
        reader, writer = await asyncio.open_connection("127.0.0.1", plc.rtu_tcp_port)
        await plc.drop_connections()  # clients must reconnect, as on Modbus TCP
        assert await asyncio.wait_for(reader.read(), 10) == b""
        writer.close()
    finally:
        client.close()


async def test_unit_faults_apply_on_the_serial_line(on_line) -> None:
    plc = await on_line.plc(pace="off")
    client = await on_line.client(timeout=0.5)
    plc.faults("cell02").exception = 6
    busy = await client.read_input_registers(0, count=2, device_id=2)
    assert busy.isError()
    assert busy.exception_code == 6
    plc.faults("cell02").exception = None
    plc.faults("cell03").silent = True
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=2, device_id=3)
    assert len(await inputs(client, 1)) == 25  # a silent unit does not stop the others
    plc.faults("cell03").silent = False
    plc.faults("cell01").delay = 1.5
    with pytest.raises(ModbusIOException):  # later than the client waits
        await client.read_input_registers(0, count=2, device_id=1)
    await asyncio.sleep(1.5)  # let the late answer pass before asking unit 1 again
    client.close()
    patient = await on_line.client(timeout=5.0)
    late = await patient.read_input_registers(0, count=2, device_id=1)  # slow, but there
    assert not late.isError()


async def test_a_paced_line_answers_no_sooner_than_the_wire_allows(on_line) -> None:
    # at 1200 baud, 8 bytes out and 55 back take 0.58 s on the wire: a client that waits
    # 0.2 s never gets the answer, one that waits long enough gets it whole
    await on_line.plc(line=Line(baudrate=1200))
    client = await on_line.client(timeout=0.2)
    with pytest.raises(ModbusIOException):
        await client.read_input_registers(0, count=25, device_id=1)
    await asyncio.sleep(1.0)  # the late answer leaves the line
    client.close()
    client = await on_line.client(timeout=5.0)
    assert len(await inputs(client, 1)) == 25


async def test_corrupted_answers_fail_their_crc_and_the_rest_are_right(on_line) -> None:
    plc = await on_line.plc(pace="off", corrupt=0.3, seed=5)
    expected = plc.bank.unit(1).get(Space.INPUT_REGISTER, *CELL_INPUTS)
    client = await on_line.client(timeout=0.2)
    total, failed = 60, 0
    for _ in range(total):
        try:
            response = await client.read_input_registers(*CELL_INPUTS[:1], count=25, device_id=1)
        except ModbusIOException:
            failed += 1
            continue
        assert not response.isError()
        assert response.registers == expected  # a frame that passes is never wrong
    assert 0.1 * total <= failed <= 0.5 * total
    assert failed == plc.rtu_stats.corrupted  # every damaged frame was caught
    assert plc.rtu_stats.answered == total


async def test_a_broadcast_write_reaches_every_unit_at_once_whatever_its_faults(on_line) -> None:
    plc = await on_line.plc(pace="off")
    client = await on_line.client()
    plc.faults("cell01").delay = 600.0  # far longer than the test
    plc.faults("cell02").silent = True
    mode = int(FeedMode.MANUAL)
    await client.write_register(200, mode, device_id=0, no_response_expected=True)
    # requests are served in their order on the line: once this read is answered, the
    # broadcast before it has been carried out
    assert len(await inputs(client, 3)) == 25
    feeders = [plc.plant.values(f"cell0{n}_feeder")["mode"] for n in (1, 2, 3)]
    assert feeders == [mode] * 3  # the delayed, the silent and the healthy unit alike
    assert plc.rtu_stats.answered == 1  # the read: nobody answers a broadcast


async def test_requests_to_a_silent_unit_leave_no_task_behind(on_line) -> None:
    plc = await on_line.plc(pace="off")
    plc.faults("cell02").silent = True
    client = await on_line.client(timeout=0.05)
    tasks = len(asyncio.all_tasks())
    for _ in range(20):
        with pytest.raises(ModbusIOException):
            await client.read_input_registers(0, count=2, device_id=2)
    client.close()
    patient = await on_line.client()
    assert len(await inputs(patient, 1)) == 25  # every request before it was taken in
    assert len(asyncio.all_tasks()) <= tasks + 2  # not one more per request
    assert plc.rtu_pending == 0
