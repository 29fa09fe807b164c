"""The new cell tags over both protocols, from in-process servers on 127.0.0.1: the lab
analyses carry their sample time (OPC UA: as the source timestamp; Modbus: as epoch seconds
in a register pair), the off-gas and electrode tags read the plant's values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient

from simulators.modbus_plc import ModbusPlc, from_registers
from simulators.opcua_plc import NAMESPACE_URI, OpcUaPlc, node_id
from simulators.process.plant import Plant
from simulators.registermap import REGISTERS
from simulators.runner import PlantRunner

pytestmark = pytest.mark.integration
EPOCH_S = 1_900_000_000
NEW = ["c2f6_ppm", "co_pct", "co2_pct", "offgas_flow", "anode_position", "anode1_current"]
NEW += ["anode_drop", "bath_drop", "cathode_drop", "fe_consumed_total"]
LAB = ["lab_metal_re", "lab_metal_fe", "lab_bath_lif", "lab_bath_oxide"]


def plant_after_a_lab_result() -> Plant:
    """A GdFe cell whose second lab result is out (taken hours after the start)."""
    plant = Plant(cells=1, product="GdFe", seed=3)
    plant.epoch_ns = EPOCH_S * 10**9
    while plant.cells[0].lab.samples < 2:
        plant.step(60.0)
    return plant


async def test_lab_results_carry_their_sample_time_over_opcua_and_modbus():
    plant = plant_after_a_lab_result()
    opcua, modbus = OpcUaPlc(plant, port=0), ModbusPlc(plant, port=0)
    await opcua.start()
    await modbus.start()
    try:
        plant.step(1.0)  # a step of the plant, published at its plant time
        now = datetime.fromtimestamp(EPOCH_S + plant.t, UTC)
        await opcua.publish(now)
        modbus.publish()
        values = plant.values("cell01")
        sampled = values["lab_sample_time"]
        assert EPOCH_S + 3 * 3600 <= sampled < EPOCH_S + plant.t - 20 * 60  # taken, analysed
        async with Client(opcua.endpoint) as client:
            ns = await client.get_namespace_index(NAMESPACE_URI)

            async def read(tag: str) -> ua.DataValue:
                node = client.get_node(ua.NodeId(node_id("cell01", tag), ns))
                return await node.read_data_value()

            for tag in [*LAB, "lab_sample_time"]:
                dv = await read(tag)
                assert dv.SourceTimestamp == datetime.fromtimestamp(sampled, UTC), tag
                assert dv.Value.Value == values[tag], tag
            for tag in [*NEW, "cell_voltage"]:
                dv = await read(tag)
                assert dv.Value.Value == values[tag], tag
                if tag not in ("c2f6_ppm", "offgas_flow"):  # (constant since the start)
                    assert dv.SourceTimestamp == now, tag  # the plant's time of the step
        client_mb = AsyncModbusTcpClient("127.0.0.1", port=modbus.port, timeout=2, retries=0)
        await client_mb.connect()
        try:
            for reg in REGISTERS["cell"]:
                if reg.tag not in [*LAB, *NEW, "lab_sample_time"]:
                    continue
                width = 2 if reg.dtype.value in ("uint32", "float32") else 1
                response = await client_mb.read_input_registers(
                    reg.address, count=width, device_id=1
                )
                got = from_registers(reg, response.registers)
                if reg.tag == "lab_sample_time":
                    assert got == sampled  # epoch seconds in a register pair
                else:
                    truth = values[reg.tag]
                    assert got == pytest.approx(truth, rel=1e-6, abs=reg.factor / 2), reg.tag
        finally:
            client_mb.close()
    finally:
        await modbus.stop()
        await opcua.stop()


async def test_the_runner_gives_the_plant_its_epoch_for_the_lab_sample_times():
    plant = Plant(cells=1, seed=1)
    runner = PlantRunner(plant, speed=None, duration=5.0, epoch_ns=EPOCH_S * 10**9 + 7)
    await runner.run()
    assert plant.epoch_ns == EPOCH_S * 10**9 + 7
    assert plant.values("cell01")["lab_sample_time"] == EPOCH_S  # the start-up sample
