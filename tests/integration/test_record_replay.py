"""Determinism, ground-truth recording, and replay served over Modbus."""

from __future__ import annotations

import itertools

import pytest
from pymodbus.client import AsyncModbusTcpClient

from gateway.testing import FakeClock
from simulators.modbus_plc import ModbusPlc
from simulators.process.plant import Plant
from simulators.record import Recorder, ReplayPlant, ground_truth, read_frames
from simulators.runner import PlantRunner
from simulators.scenario import Scenario
from simulators.sensorfaults import SensorFaults

STORM = Scenario.model_validate(
    {
        "events": [
            {"at": 20, "fault": "anode_effect", "target": "cell02"},
            {"at": 40, "fault": "thermocouple_open", "target": "cell01"},
        ]
    }
)


async def record_run(path, seed: int) -> None:
    plant = Plant(cells=3, seed=seed)
    recorder = Recorder(path)
    runner = PlantRunner(
        plant, speed=None, duration=120.0, scenario=STORM, recorder=recorder, clock=FakeClock()
    )
    await runner.run()
    recorder.close()


async def test_same_seed_and_scenario_give_bit_identical_records(tmp_path):
    await record_run(tmp_path / "a.lp", seed=11)
    await record_run(tmp_path / "b.lp", seed=11)
    await record_run(tmp_path / "c.lp", seed=12)
    a, b, c = ((tmp_path / n).read_bytes() for n in ("a.lp", "b.lp", "c.lp"))
    assert a == b
    assert a != c


async def test_record_holds_every_tag_of_every_device_at_every_step(tmp_path):
    await record_run(tmp_path / "run.lp", seed=5)
    frames = list(read_frames(tmp_path / "run.lp"))
    assert len(frames) == 121  # t = 0 and 120 steps of 1 s
    steps = {b - a for (a, _), (b, _) in itertools.pairwise(frames)}
    assert steps == {1_000_000_000}
    plant = Plant(cells=3, seed=5)
    assert set(frames[0][1]) == set(plant.device_names())
    for device in plant.device_names():
        assert set(frames[0][1][device][1]) == set(plant.values(device))
    voltages = [v for _, v in ground_truth(tmp_path / "run.lp", "cell02", "cell_voltage")]
    assert max(voltages) > 15  # the anode effect at 20 s is in the record
    last = frames[-1][1]["cell01"]
    assert last[2] == {"bath_temp": "BadSensorFailure"}  # the open thermocouple too


async def test_replay_serves_the_recorded_values_over_modbus(tmp_path):
    await record_run(tmp_path / "run.lp", seed=5)
    replay = ReplayPlant(tmp_path / "run.lp")
    assert replay.duration == pytest.approx(120.0)
    server = ModbusPlc(replay, port=0)
    await server.start()
    client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=2, retries=0)
    await client.connect()
    try:
        truth = dict(ground_truth(tmp_path / "run.lp", "rectifier", "line_voltage"))
        for _ in range(30):
            replay.step(1.0)
        server.publish()
        response = await client.read_input_registers(2, count=2, device_id=100)  # CDAB float32
        got = AsyncModbusTcpClient.convert_from_registers(
            response.registers, AsyncModbusTcpClient.DATATYPE.FLOAT32, word_order="little"
        )
        expected = truth[replay.recorded_start_ns + 30_000_000_000]
        assert got == pytest.approx(expected, rel=1e-6)
    finally:
        client.close()
        await server.stop()
    with pytest.raises(ValueError, match="read-only"):
        replay.write("rectifier", "line_current_sp", 5.0)


async def test_replay_serves_the_recorded_values_over_opcua(tmp_path):
    from asyncua import Client

    from simulators.opcua_plc import OpcUaPlc, node_id

    await record_run(tmp_path / "run.lp", seed=5)
    replay = ReplayPlant(tmp_path / "run.lp")
    server = OpcUaPlc(replay, port=0)
    await server.start()
    try:
        for _ in range(25):  # t = 25 s: cell02 is in the anode effect injected at 20 s
            replay.step(1.0)
        await server.publish()
        async with Client(server.endpoint) as client:
            ns = await client.get_namespace_index("urn:plc-gateway:simulator")
            node = client.get_node(f"ns={ns};s={node_id('cell02', 'cell_voltage')}")
            got = await node.read_value()
        truth = dict(ground_truth(tmp_path / "run.lp", "cell02", "cell_voltage"))
        assert got == truth[replay.recorded_start_ns + 25_000_000_000]
        assert got > 15
    finally:
        await server.stop()


async def test_a_thinned_record_keeps_the_first_step_of_each_interval_and_the_reported_values(
    tmp_path,
):
    plant = Plant(cells=1, seed=2)
    sensors = SensorFaults({d: plant.kind(d) for d in plant.device_names()}, seed=2)
    recorder = Recorder(tmp_path / "thin.lp", every=90.0, sensors=sensors)
    drift = Scenario.model_validate(
        {
            "events": [
                {"at": 100, "fault": "drift", "target": "cell01.acd", "settings": {"rate": 36}}
            ]
        }
    )
    runner = PlantRunner(
        plant, speed=None, duration=300.0, scenario=drift, recorder=recorder, clock=FakeClock(),
        epoch_ns=0, sensors=sensors,
    )  # fmt: skip
    await runner.run()
    recorder.close()
    frames = list(read_frames(tmp_path / "thin.lp"))
    assert [ts // 10**9 for ts, _ in frames] == [0, 90, 180, 270]
    cells = [frame["cell01"][1] for _, frame in frames]
    assert ["acd_reported" in cell for cell in cells] == [False, False, True, True]
    assert cells[3]["acd_reported"] == pytest.approx(cells[3]["acd"] + 36 * 170 / 3600)
    replay = ReplayPlant(tmp_path / "thin.lp")
    replay.step(100.0)  # between two recorded instants the replay holds the earlier one
    assert replay.values("cell01")["acd"] == cells[1]["acd"]


async def test_a_runner_steps_a_replay_through_its_recorded_instants(tmp_path):
    """The runner stamps with its own epoch (the wall clock); the replay keeps the record's,
    from which it picks its frames: 30 s in, it serves the frame recorded 30 s in."""
    await record_run(tmp_path / "run.lp", seed=5)
    replay = ReplayPlant(tmp_path / "run.lp")
    recorded_start = replay.recorded_start_ns
    clock = FakeClock()
    clock.advance(3600.0)  # the wall clock is elsewhere than the recording
    runner = PlantRunner(replay, speed=None, duration=30.0, clock=clock)
    await runner.run()
    assert replay.recorded_start_ns == recorded_start
    truth = dict(ground_truth(tmp_path / "run.lp", "rectifier", "line_voltage"))
    assert replay.values("rectifier")["line_voltage"] == truth[recorded_start + 30_000_000_000]


async def test_the_runner_starts_a_live_plants_clock_at_its_own_epoch():
    """A plant given a provisional epoch when it was made (its servers publish before the
    runner starts) counts its time from the runner's: else, the servers' start-up later, the
    source timestamps would lag the wall clock by it."""
    plant = Plant(cells=1, seed=1)
    plant.epoch_ns = 1_000_000_000_000_000_000  # when the plant was made
    clock = FakeClock()  # ... and the runner starts later
    runner = PlantRunner(plant, speed=None, duration=1.0, clock=clock)
    assert plant.epoch_ns == runner.epoch_ns == clock.now_ns()
