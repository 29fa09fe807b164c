"""The bundled tag maps agree with the simulator: generated from its register map, catalog and
OPC UA node names, and the gateway reading the whole plant through them (cells over Modbus,
feeders and the rectifier over OPC UA) gets the plant's values."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.clock import SystemClock
from gateway.collectors import registry
from gateway.config import load_tagmaps
from gateway.demo import PLANT_VIEW
from gateway.model import Quality, Sample, TagPlan
from gateway.pipeline import build_pipeline
from simulators.export import ALARMS, PROTOCOL, files
from simulators.modbus_plc import ModbusPlc
from simulators.opcua_plc import OpcUaPlc
from simulators.process.plant import Plant

MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def test_committed_mappings_are_what_the_generator_makes():
    generated = files()
    for name, text in generated.items():
        assert (MAPPINGS / name).read_text() == text, (
            f"mappings/{name} is stale: run `python -m simulators export-mappings`"
        )
    committed = {str(p.relative_to(MAPPINGS)) for p in MAPPINGS.rglob("*.csv")}
    assert committed == {n for n in generated if n.endswith(".csv")}, "a stale CSV tag list"


def test_bundled_mappings_pass_check_and_read_each_kind_over_its_protocol():
    config = load_tagmaps([MAPPINGS], env={})
    assert len(config.devices) == 25  # rectifier + 12 cells + 12 feeders
    for device in config.devices:
        assert device.protocol == PROTOCOL[device.measurement], device.name
    opcua = [d for d in config.devices if d.protocol == "opcua"]
    assert {d.measurement for d in opcua} == {"feeder", "rectifier"}
    assert {d.endpoint for d in opcua} == {"opc.tcp://127.0.0.1:4840"}  # the defaults
    nodes = [t.node for d in opcua for t in d.tags]
    assert all(n.startswith("nsu=urn:plc-gateway:simulator;s=Potline1.") for n in nodes)


def test_the_opcua_endpoint_follows_the_environment():
    env = {"PLANT_HOST": "10.0.0.7", "PLANT_OPCUA_PORT": "48400", "PLANT_MODBUS_PORT": "502"}
    config = load_tagmaps([MAPPINGS], env=env)
    endpoints = {d.protocol: d.endpoint for d in config.devices}
    assert endpoints == {"opcua": "opc.tcp://10.0.0.7:48400", "modbus": "modbus+tcp://10.0.0.7:502"}


def test_the_demo_view_shows_tags_the_maps_read():
    read: dict[str, set[str]] = {}
    for device in load_tagmaps([MAPPINGS], env={}).devices:
        read.setdefault(device.measurement, set()).update(t.name for t in device.tags)
    for measurement, view in PLANT_VIEW.items():
        shown = {tag for tag, _ in view.values} | {view.state_tag, view.alarm_tag} - {None}
        assert shown <= read[measurement], (measurement, shown - read[measurement])


def _check_value(sample: Sample, plant: Plant, tag: TagPlan) -> None:
    values = plant.values(sample.point.device)
    bit = getattr(tag, "bit", None)
    if bit is not None:  # Modbus alarm bit tags view the device's alarm word
        word = values[ALARMS[plant.kind(sample.point.device)][0]]
        assert sample.value == bool(word >> bit & 1), sample
    elif isinstance(values[sample.point.tag], float):
        # Modbus: scaled integers are exact to half a step, floats to float32 precision;
        # OPC UA serves Doubles: exact
        step = tag.scale[0] / 2 + 1e-9 if tag.scale else 0.0
        rel = 1e-6 if plant.kind(sample.point.device) == "cell" else 1e-12
        assert sample.value == pytest.approx(values[sample.point.tag], rel=rel, abs=step), sample
    else:
        assert sample.value == values[sample.point.tag], sample


@pytest.mark.integration
async def test_gateway_reads_the_whole_plant_through_the_bundled_maps():
    plant = Plant(cells=12, seed=3)
    for _ in range(60):
        plant.step(1.0)
    modbus, opcua = ModbusPlc(plant, port=0), OpcUaPlc(plant, port=0)
    await modbus.start()
    await opcua.start()
    env = {
        "PLANT_HOST": "127.0.0.1",
        "PLANT_MODBUS_PORT": str(modbus.port),
        "PLANT_OPCUA_PORT": str(opcua.port),
    }
    plans = registry.compile_all(load_tagmaps([MAPPINGS], env=env).devices)
    assert {p.protocol for p in plans} == {"modbus", "opcua"}
    pipeline = build_pipeline(t for p in plans for t in p.tag_plans())
    samples: list[Sample] = []
    try:
        for plan in plans:
            collector = registry.build_collector(plan, lambda _: None, SystemClock())
            try:
                samples += pipeline.apply(await collector.scan_all())
            finally:
                collector.close()
    finally:
        await modbus.stop()
        await opcua.stop()
    # 12 cells x 51 fields (42 registers + 9 alarm bits), 12 feeders x 11, the rectifier 10
    assert len(samples) == sum(len(p.tag_plans()) for p in plans) == 754
    assert all(s.quality is Quality.GOOD for s in samples), [
        s for s in samples if s.quality is not Quality.GOOD
    ]
    tags = {(t.point.device, t.point.tag): t for p in plans for t in p.tag_plans()}
    by_kind = {plant.kind(s.point.device) for s in samples}
    assert by_kind == {"cell", "feeder", "rectifier"}
    for sample in samples:
        _check_value(sample, plant, tags[(sample.point.device, sample.point.tag)])


def test_the_readme_counts_the_devices_and_tags_that_gateway_check_counts(capsys):
    from gateway.cli import main

    assert main(["check", str(MAPPINGS)]) == 0
    checked = re.search(r"OK: (\d+) devices, (\d+) tags", capsys.readouterr().out)
    assert checked is not None
    readme = (MAPPINGS.parent / "README.md").read_text(encoding="utf-8")
    claimed = re.search(r"read the whole simulated plant \((\d+) devices, (\d+)\s+tags\)", readme)
    assert claimed is not None, "README.md no longer says how many devices and tags"
    assert claimed.groups() == checked.groups(), "README.md: the plant's device and tag count"
