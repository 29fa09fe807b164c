"""The alarm bits and the state the plant raises for an earth fault, a load-cell fault and a
cell cut-out reach a Modbus client and an OPC UA client (in-process servers on port 0)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient

from simulators.catalog import CellState, FeederAlarm, RectifierAlarm
from simulators.modbus_plc import ModbusPlc
from simulators.opcua_plc import OpcUaPlc
from simulators.process.plant import Plant
from simulators.record import read_frames
from simulators.registermap import RECTIFIER_UNIT, REGISTERS

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def address(kind: str, tag: str) -> int:
    return next(r.address for r in REGISTERS[kind] if r.tag == tag)


def faulted_plant() -> Plant:
    plant = Plant(cells=2, seed=5)
    plant.inject("earth_fault")
    plant.inject("loadcell_fault", "cell01_feeder")
    plant.inject("cell_cut_out", "cell02")
    for _ in range(5):
        plant.step(1.0)
    return plant


async def test_the_new_alarm_bits_over_modbus():
    plant = faulted_plant()
    server = ModbusPlc(plant, port=0)
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=2, retries=0)
    await client.connect()
    try:

        async def word(unit: int, kind: str, tag: str) -> int:
            got = await client.read_input_registers(address(kind, tag), count=1, device_id=unit)
            assert not got.isError(), got
            return int(got.registers[0])

        assert await word(RECTIFIER_UNIT, "rectifier", "alarms") & RectifierAlarm.EARTH_FAULT
        assert await word(1, "feeder", "alarms") & FeederAlarm.LOADCELL_FAULT
        assert await word(2, "cell", "state") == CellState.CUT_OUT
        assert await word(1, "cell", "state") != CellState.CUT_OUT
        assert await word(2, "feeder", "alarms") & FeederAlarm.LOADCELL_FAULT == 0
        plant.clear("earth_fault")
        plant.clear("cell_cut_out", "cell02")
        plant.step(1.0)
        server.publish()
        assert await word(RECTIFIER_UNIT, "rectifier", "alarms") & RectifierAlarm.EARTH_FAULT == 0
        assert await word(2, "cell", "state") != CellState.CUT_OUT
    finally:
        client.close()
        await server.stop()


async def test_the_new_alarm_bits_over_opcua():
    plant = faulted_plant()
    plc = OpcUaPlc(plant, port=0)
    await plc.start()
    try:
        async with Client(plc.endpoint) as client:

            def node(path: str):
                return client.get_node(f"ns={plc.ns};s=Potline1.{path}")

            assert await node("Rectifier.alarms").read_value() & RectifierAlarm.EARTH_FAULT
            alarms = await node("Cell01.Feeder.alarms").read_value()
            assert alarms & FeederAlarm.LOADCELL_FAULT
            assert await node("Cell02.state").read_value() == CellState.CUT_OUT
            # the broken load cell's weight is served with a Bad status, as a PLC flags it
            weight = await node("Cell01.Feeder.hopper_weight").read_data_value(
                raise_on_bad_status=False
            )
            assert weight.StatusCode is not None
            assert weight.StatusCode.value == ua.StatusCodes.BadSensorFailure
            plant.clear("loadcell_fault", "cell01_feeder")
            plant.step(1.0)
            await plc.publish()
            alarms = await node("Cell01.Feeder.alarms").read_value()
            assert alarms & FeederAlarm.LOADCELL_FAULT == 0
            weight = await node("Cell01.Feeder.hopper_weight").read_data_value()
            assert weight.StatusCode is not None
            assert weight.StatusCode.is_good()
    finally:
        await plc.stop()


async def test_the_new_faults_from_the_command_line_reach_the_record(tmp_path):
    record = tmp_path / "run.lp"
    faults = ["earth_fault", "loadcell_fault:cell01", "cell_cut_out:cell02"]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "simulators", "plant", "--cells", "2", "--modbus-port", "0", "--no-opcua"),
        *("--operators", "off", "--speed", "max", "--duration", "20", "--record", str(record)),
        *(arg for fault in faults for arg in ("--fault", fault)),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    _, last = list(read_frames(record))[-1]
    assert int(last["rectifier"][1]["alarms"]) & RectifierAlarm.EARTH_FAULT
    assert int(last["cell01_feeder"][1]["alarms"]) & FeederAlarm.LOADCELL_FAULT
    assert last["cell01_feeder"][2] == {"hopper_weight": "BadSensorFailure"}
    assert last["cell02"][1]["state"] == CellState.CUT_OUT
    assert last["cell01"][1]["state"] != CellState.CUT_OUT
