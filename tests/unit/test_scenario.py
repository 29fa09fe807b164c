"""Scenario files and the runner's virtual clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.collectors.schedule import Stop
from gateway.testing import FakeClock
from simulators.process.plant import Plant
from simulators.runner import PlantRunner
from simulators.scenario import Scenario, check_scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "simulators" / "scenarios"


@pytest.mark.parametrize(
    "name", ["normal-shift", "anode-effect-storm", "feeder-jam", "rectifier-trip", "sensor-faults"]
)
def test_bundled_scenarios_load(name):
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    check_scenario(scenario, Plant(), name)  # every fault, target and setting is known
    assert scenario.events
    assert scenario.sorted_events()[0].at > 0


def test_a_broken_scenario_names_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("events:\n  - {at: soon, fault: feeder_jam}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: events.0.at: .*'soon' is not a duration"):
        load_scenario(path)


async def test_runner_steps_simulated_time_and_fires_events_on_time():
    plant = Plant(cells=2, seed=1)
    scenario = Scenario.model_validate(
        {
            "events": [
                {"at": "30s", "fault": "rectifier_trip"},
                {"at": 90, "command": "reset_rectifier"},
            ]
        }
    )
    clock = FakeClock()
    runner = PlantRunner(plant, speed=10.0, duration=60.0, scenario=scenario, clock=clock)
    await runner.run()
    assert plant.t == pytest.approx(60.0)
    assert runner.steps == 60
    # speed 10: 60 simulated seconds take 6 seconds of (fake) wall time
    assert clock.monotonic() == pytest.approx(6.0)
    assert plant.values("rectifier")["state"] == 4  # TRIPPED at 30 s, reset only at 90 s
    assert len(runner.events) == 1


async def test_duration_is_simulated_time_at_max_speed():
    plant = Plant(cells=1, seed=1)
    runner = PlantRunner(plant, speed=None, duration=600.0)
    await runner.run()
    assert plant.t == pytest.approx(600.0)


async def test_a_pending_server_restart_does_not_outlive_the_run():
    from simulators.modbus_plc import ModbusPlc

    plant = Plant(cells=1, seed=1)
    plc = ModbusPlc(plant, port=0)
    await plc.start()
    scenario = Scenario.model_validate({"events": [{"at": 0, "modbus": {"restart": "30s"}}]})
    runner = PlantRunner(plant, modbus=plc, speed=None, duration=5.0, scenario=scenario)
    await runner.run()
    assert runner.pending == 0  # the restart (30 s of downtime) was cancelled, not left running
    await plc.stop()
    assert plc.handle is None


async def test_a_stop_ends_a_slow_run_without_waiting_for_its_next_step():
    # at speed 0.001 the next step is 1000 s away: a stop (SIGTERM) must not wait for it
    plant = Plant(cells=1, seed=1)
    runner = PlantRunner(plant, speed=0.001)
    stop = Stop()
    task = asyncio.create_task(runner.run(stop))
    while runner.steps < 1:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 30)  # a bound far below the 1000 s step, not a speed
    assert runner.steps == 1
