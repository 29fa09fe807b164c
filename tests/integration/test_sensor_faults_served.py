"""Data-quality faults as a historian sees them: read over Modbus (pymodbus) and OPC UA
(asyncua) from the simulated PLCs on 127.0.0.1, while the plant (the ground truth) keeps its
true values. One 3-cell plant runs 10 simulated minutes with every fault kind at once."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from asyncua import Client, ua
from pymodbus.client import AsyncModbusTcpClient

from gateway.testing import FakeClock
from simulators.modbus_plc import ModbusPlc
from simulators.opcua_plc import OpcUaPlc, node_id
from simulators.process.plant import Plant
from simulators.registermap import REGISTERS, unit_of
from simulators.runner import PlantRunner
from simulators.scenario import Scenario, check_scenario
from simulators.sensorfaults import SensorFaults
from tests.integration.test_modbus_plc import independent_decode, read

pytestmark = pytest.mark.integration

EPOCH = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
SEED = 4
SCENARIO = Scenario.model_validate(
    yaml.safe_load(
        """
events:
  - {at: 10, fault: drift, target: cell01.bath_temp, settings: {rate: 3600}}
  - {at: 20, fault: stuck, target: cell02.cell_voltage, settings: {value: 7.5}}
  - {at: 30, fault: frozen, target: rectifier.line_voltage}
  - {at: 0, fault: spike, target: rectifier.line_current, settings: {size: 100, every: 5s}}
  - {at: 40, fault: noise, target: cell03.pseudo_resistance, settings: {sigma: 0.5}}
  - {at: 50, fault: clock_skew, target: cell01, settings: {offset: -90s, drift: 3600}}
  - {at: 300, fault: counter_reset, target: rectifier.energy_total}
  - {at: 0, fault: counter_wrap, target: cell01.metal_produced_total,
     settings: {offset: 4294967295}}
  - {at: 60, fault: noise, target: cell02.bath_temp, settings: {sigma: 5, for: 30s}}
  - {at: 0, fault: counter_wrap, target: cell02.ae_count, settings: {offset: 70000}}
"""
    )
)


def register(device: str, tag: str):
    kind = "rectifier" if device == "rectifier" else "feeder" if "feeder" in device else "cell"
    return next(r for r in REGISTERS[kind] if r.tag == tag)


async def modbus_value(client, device: str, tag: str):
    reg = register(device, tag)
    return independent_decode(reg, await read(client, unit_of(device), reg))


async def opcua_value(client: Client, plc: OpcUaPlc, device: str, tag: str) -> ua.DataValue:
    node = client.get_node(f"ns={plc.ns};s={node_id(device, tag)}")
    return await node.read_data_value()


async def test_every_fault_is_served_over_modbus_and_opcua_while_the_plant_keeps_the_truth():
    plant = Plant(cells=3, seed=SEED)
    sensors = SensorFaults({d: plant.kind(d) for d in plant.device_names()}, seed=SEED)
    check_scenario(SCENARIO, plant)
    modbus = ModbusPlc(plant, port=0, sensors=sensors)
    opcua = OpcUaPlc(plant, port=0, sensors=sensors)
    await modbus.start()
    await opcua.start()
    runner = PlantRunner(
        plant,
        modbus=modbus,
        opcua=opcua,
        speed=None,
        scenario=SCENARIO,
        clock=FakeClock(),
        epoch_ns=int(EPOCH.timestamp()) * 10**9,
        sensors=sensors,
    )
    mb = AsyncModbusTcpClient("127.0.0.1", port=modbus.port, timeout=2, retries=0)
    await mb.connect()
    ua_client = Client(opcua.endpoint)
    await ua_client.connect()
    try:
        spikes: dict[str, list[int]] = {"modbus": [], "opcua": []}
        onset_voltage = None
        for second in range(0, 61):  # one reading per second over both protocols
            runner.duration = float(second)
            await runner.run()
            if second == 30:
                onset_voltage = plant.values("rectifier")["line_voltage"]
                onset_stamp = await opcua_value(ua_client, opcua, "rectifier", "line_voltage")
            current = await modbus_value(mb, "rectifier", "line_current")
            if current > 50:
                spikes["modbus"].append(second)
            if (await opcua_value(ua_client, opcua, "rectifier", "line_current")).Value.Value > 50:
                spikes["opcua"].append(second)
            if second == 45:  # the frozen node: old value, old source time, status Good
                frozen = await opcua_value(ua_client, opcua, "rectifier", "line_voltage")
                assert frozen.Value.Value == onset_voltage
                assert frozen.SourceTimestamp == onset_stamp.SourceTimestamp
                assert frozen.StatusCode.is_good()
                assert plant.values("rectifier")["line_voltage"] != onset_voltage
                assert await modbus_value(mb, "rectifier", "line_voltage") == pytest.approx(
                    onset_voltage, rel=1e-6
                )
            if second == 60:  # noise burst on cell02.bath_temp (60 s .. 90 s)
                noisy = await modbus_value(mb, "cell02", "bath_temp")
                truth = plant.values("cell02")["bath_temp"]
                assert noisy != pytest.approx(truth, abs=1e-3)
        # spikes: the same seconds on both protocols, as the seed predicts
        twin = SensorFaults(sensors.kinds, seed=SEED)
        twin.inject("spike", "rectifier.line_current", {"size": 100, "every": "5s"}, 0.0)
        expected = [
            s
            for s in range(61)
            if twin.reported("rectifier", {"line_current": 6.0}, s)["line_current"] > 50
        ]
        assert spikes["modbus"] == spikes["opcua"] == expected
        assert 3 <= len(expected) <= 40

        runner.duration = 600.0
        await runner.run()
        t = plant.t
        now = EPOCH + timedelta(seconds=t)
        cell01, cell02, rect = (plant.values(d) for d in ("cell01", "cell02", "rectifier"))

        drifted = cell01["bath_temp"] + (t - 10.0)  # 3600 degC/h = 1 degC/s since 10 s
        assert await modbus_value(mb, "cell01", "bath_temp") == pytest.approx(drifted, rel=1e-6)
        got = await opcua_value(ua_client, opcua, "cell01", "bath_temp")
        assert got.Value.Value == pytest.approx(drifted, abs=1e-9)

        assert await modbus_value(mb, "cell02", "cell_voltage") == 7.5
        stuck = await opcua_value(ua_client, opcua, "cell02", "cell_voltage")
        assert stuck.Value.Value == 7.5
        assert stuck.StatusCode.is_good()
        assert stuck.SourceTimestamp == now  # re-stamped every step
        assert cell02["cell_voltage"] > 8.0

        noisy = await modbus_value(mb, "cell03", "pseudo_resistance")
        truth = plant.values("cell03")["pseudo_resistance"]
        assert abs(noisy - truth) > 1e-4
        twin.inject("noise", "cell03.pseudo_resistance", {"sigma": 0.5}, 40.0)
        seeded = twin.reported("cell03", {"pseudo_resistance": truth}, t)["pseudo_resistance"]
        assert noisy == pytest.approx(seeded, rel=1e-6)  # the seed's draw for this second
        assert (await opcua_value(ua_client, opcua, "cell03", "pseudo_resistance")).Value.Value == (
            pytest.approx(noisy, rel=1e-6)
        )
        assert await modbus_value(mb, "cell02", "bath_temp") == pytest.approx(
            cell02["bath_temp"], rel=1e-6
        )  # the burst ended after 30 s

        skewed = await opcua_value(ua_client, opcua, "cell01", "cell_voltage")
        expected_skew = -90.0 + (t - 50.0)  # 3600 s/h = 1 s per s since 50 s
        assert skewed.SourceTimestamp == now + timedelta(seconds=expected_skew)
        plain = await opcua_value(ua_client, opcua, "cell02", "cell_current")
        assert plain.SourceTimestamp == now

        at_reset = true_energy_at(300.0)
        assert rect["energy_total"] > at_reset > 0
        for value in (
            await modbus_value(mb, "rectifier", "energy_total"),
            (await opcua_value(ua_client, opcua, "rectifier", "energy_total")).Value.Value,
        ):
            assert value == rect["energy_total"] - at_reset

        produced = cell01["metal_produced_total"]
        assert produced >= 1  # so the preset counter has wrapped past 2**32 - 1
        assert await modbus_value(mb, "cell01", "metal_produced_total") == produced - 1
        got = await opcua_value(ua_client, opcua, "cell01", "metal_produced_total")
        assert got.Value.Value == produced - 1
        wrapped = (cell02["ae_count"] + 70000) % 2**16  # at its U16 register's width
        assert await modbus_value(mb, "cell02", "ae_count") == wrapped  # not clamped at 65535
        assert (await opcua_value(ua_client, opcua, "cell02", "ae_count")).Value.Value == wrapped
    finally:
        mb.close()
        await ua_client.disconnect()
        await modbus.stop()
        await opcua.stop()


def true_energy_at(t: float) -> int:
    """The true energy counter of the same plant at `t` (the plant is deterministic)."""
    plant = Plant(cells=3, seed=SEED)
    plant.step(t)
    return int(plant.values("rectifier")["energy_total"])


def test_noise_is_deterministic_per_seed():
    kinds = {"cell01": "cell"}

    def readings(seed: int) -> list[float]:
        faults = SensorFaults(kinds, seed=seed)
        faults.inject("noise", "cell01.bath_temp", {"sigma": 2}, 0.0)
        return [faults.reported("cell01", {"bath_temp": 1050.0}, s)["bath_temp"] for s in range(50)]

    assert readings(1) == readings(1)
    assert readings(1) != readings(2)
    mean = sum(readings(1)) / 50
    assert 1049.0 < mean < 1051.0
    assert not any(math.isnan(v) for v in readings(1))
