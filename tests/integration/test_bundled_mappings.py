"""The bundled tag maps agree with the simulator: generated from its register map, and the
gateway reading the whole plant through them gets the plant's values."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.collectors.modbus.collector import ModbusConnection
from gateway.collectors.modbus.compile import compile_connections
from gateway.config import load_tagmaps
from gateway.model import Quality
from gateway.pipeline import build_pipeline
from simulators.export import ALARMS, files
from simulators.modbus_plc import ModbusPlc
from simulators.process.plant import Plant

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def test_committed_mappings_are_what_the_register_map_generates():
    for name, text in files().items():
        assert (MAPPINGS / name).read_text() == text, (
            f"mappings/{name} is stale: run `python -m simulators export-mappings`"
        )


def test_bundled_mappings_pass_check():
    config = load_tagmaps([MAPPINGS], env={})
    assert len(config.devices) == 25  # rectifier + 12 cells + 12 feeders


@pytest.mark.integration
async def test_gateway_reads_the_whole_plant_through_the_bundled_maps():
    plant = Plant(cells=12, seed=3)
    for _ in range(60):
        plant.step(1.0)
    plc = ModbusPlc(plant, port=0)
    await plc.start()
    env = {"PLANT_HOST": "127.0.0.1", "PLANT_MODBUS_PORT": str(plc.port)}
    (plan,) = compile_connections(load_tagmaps([MAPPINGS], env=env).devices)
    pipeline = build_pipeline(t for s in plan.scans for t in s.tags)
    connection = ModbusConnection(plan, lambda _: None)
    try:
        samples = pipeline.apply(await connection.scan_all())
    finally:
        connection.close()
        await plc.stop()
    assert samples
    assert all(s.quality is not Quality.BAD for s in samples)
    tags = {(s.device, t.point.tag): t for s in plan.scans for t in s.tags}
    for sample in samples:
        values = plant.values(sample.point.device)
        tag = tags[(sample.point.device, sample.point.tag)]
        if tag.bit is not None:  # alarm bit tags view the device's alarm word
            word = values[ALARMS[plant.kind(sample.point.device)][0]]
            assert sample.value == bool(word >> tag.bit & 1), sample
        elif isinstance(values[sample.point.tag], float):
            # scaled integers are exact to half a step; floats to float32 precision
            step = tag.scale[0] / 2 + 1e-9 if tag.scale else 0.0
            assert sample.value == pytest.approx(values[sample.point.tag], rel=1e-6, abs=step)
        else:
            assert sample.value == values[sample.point.tag], sample
    assert len(samples) == sum(len(s.tags) for s in plan.scans)
