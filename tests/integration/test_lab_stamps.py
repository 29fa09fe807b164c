"""The new cell tags over both protocols, from in-process servers on 127.0.0.1: the lab
analyses carry their sample time (OPC UA: as the source timestamp; Modbus: as epoch seconds
in a register pair), the off-gas and electrode tags read the plant's values."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import pytest
from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient

from simulators.modbus_plc import ModbusPlc, from_registers
from simulators.opcua_plc import NAMESPACE_URI, OpcUaPlc, node_id
from simulators.ports import free_port
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
                # constant since the start (the anode gas follows the steady line current)
                if tag not in ("c2f6_ppm", "offgas_flow", "co_pct", "co2_pct"):
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


async def served_stamps(argv: list[str], tags: list[str]) -> dict[str, ua.DataValue]:
    """Start `python -m simulators plant ARGV` (its own start order of plant, servers and
    runner), read cell01's `tags` over OPC UA once it serves, stop it."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators", "plant", "--cells", "1", "--modbus-port", "0",
        "--opcua-port", str(port), "--speed", "1", "--duration", "300", *argv,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    try:
        line = b""
        while b"Plant running" not in line:  # logged when both servers listen
            line = await asyncio.wait_for(proc.stderr.readline(), 60)
            assert line, "the plant ended before it served"
        async with Client(f"opc.tcp://127.0.0.1:{port}") as client:
            ns = await client.get_namespace_index(NAMESPACE_URI)
            return {
                tag: await client.get_node(ua.NodeId(node_id("cell01", tag), ns)).read_data_value()
                for tag in tags
            }
    finally:
        proc.terminate()
        await proc.wait()


async def test_the_plant_command_stamps_the_first_lab_results_and_a_frozen_value_at_its_start():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    skew = timedelta(seconds=-90)
    faults = ["--fault", "frozen:cell01.bath_temp", "--fault", "clock_skew:cell01,offset=-90s"]
    got = await served_stamps(["--start", "2026-01-01T00:00:00Z", *faults], [*LAB, "bath_temp"])
    for tag in LAB:  # the start-up sample, taken at t = 0 (the next one is hours away)
        assert got[tag].SourceTimestamp == start + skew, tag
    # frozen at t = 0: it keeps the stamp of the first publish, the plant's start time
    assert got["bath_temp"].SourceTimestamp == start + skew


async def test_an_unchanged_lab_result_is_re_stamped_when_its_sample_time_changes():
    plant = Plant(cells=1, seed=2)
    opcua = OpcUaPlc(plant, port=0)
    await opcua.start()  # before the plant has its epoch: served as sampled at epoch 0
    try:
        plant.epoch_ns = EPOCH_S * 10**9  # same results, now sampled at EPOCH_S
        await opcua.publish(datetime.fromtimestamp(EPOCH_S, UTC))
        async with Client(opcua.endpoint) as client:
            ns = await client.get_namespace_index(NAMESPACE_URI)
            for tag in LAB:
                node = client.get_node(ua.NodeId(node_id("cell01", tag), ns))
                dv = await node.read_data_value()
                assert dv.SourceTimestamp == datetime.fromtimestamp(EPOCH_S, UTC), tag
    finally:
        await opcua.stop()
