"""As fast as possible, the runner updates the servers at most every `publish_every` seconds
of its clock (and after events, and at the end), while the record and the operators' events
see every step: a record does not depend on how often the servers were updated."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from gateway.replay.lines import check
from gateway.testing import FakeClock
from simulators.process.plant import Plant
from simulators.record import EVENT, Recorder, read_frames
from simulators.runner import PlantRunner
from simulators.scenario import Scenario

TICK = 1 / 64  # s of the runner's clock one step takes (exact in binary)


class CountingServer:
    """Stands in for ModbusPlc: notes the plant time of every update."""

    def __init__(self, plant: Plant) -> None:
        self.plant = plant
        self.times: list[float] = []

    def publish(self) -> None:
        self.times.append(self.plant.t)


def ticking(plant: Plant, clock: FakeClock) -> None:
    """Each plant step advances the clock by TICK, as if it took that long."""
    step = plant.step

    def timed(dt: float = 1.0) -> None:
        step(dt)
        clock.advance(TICK)

    plant.step = timed  # type: ignore[method-assign]


async def test_at_max_speed_the_servers_get_the_plant_every_publish_every_after_events_at_the_end():
    plant, clock = Plant(cells=1, seed=1, operators=False), FakeClock()
    ticking(plant, clock)
    server = CountingServer(plant)
    scenario = Scenario.model_validate(
        {"events": [{"at": 10, "command": "tap", "target": "cell01"}]}
    )
    runner = PlantRunner(
        plant,
        modbus=server,
        speed=None,
        duration=101.0,
        scenario=scenario,
        clock=clock,
        publish_every=4 * TICK,
    )
    await runner.run()
    assert runner.steps == 101
    expected = [0, 4, 8, 10, *range(14, 101, 4), 101]  # the event at 10 s; the last step
    assert server.times == expected
    assert runner.publishes == len(expected)


async def test_at_a_finite_speed_every_step_reaches_the_servers():
    plant, clock = Plant(cells=1, seed=1, operators=False), FakeClock()
    ticking(plant, clock)
    server = CountingServer(plant)
    runner = PlantRunner(
        plant, modbus=server, speed=1e6, duration=20.0, clock=clock, publish_every=4 * TICK
    )
    await runner.run()
    assert server.times == list(range(21))


async def record_run(path, publish_every: float) -> None:
    plant, clock = Plant(cells=2, seed=7, max_step=10.0), FakeClock()
    plant.cells[0].m_metal = 40.0  # a tap is due at once
    plant.cells[1].m_sludge = 12.0  # and a rake
    ticking(plant, clock)
    recorder = Recorder(path, every=60.0)
    runner = PlantRunner(
        plant,
        modbus=CountingServer(plant),
        speed=None,
        dt=10.0,
        duration=3600.0,
        recorder=recorder,
        clock=clock,
        epoch_ns=1_767_225_600 * 10**9,
        publish_every=publish_every,
    )
    await runner.run()
    recorder.close()


async def test_the_record_and_its_operator_events_do_not_depend_on_the_server_updates(tmp_path):
    await record_run(tmp_path / "every.lp.gz", publish_every=0.0)
    await record_run(tmp_path / "rarely.lp.gz", publish_every=1e9)
    every, rarely = ((tmp_path / n).read_bytes() for n in ("every.lp.gz", "rarely.lp.gz"))
    assert every == rarely
    lines = gzip.decompress(every).decode().splitlines()
    events = [line for line in lines if line.startswith(EVENT + ",")]
    assert [e.split(" ")[0] for e in events] == [
        "operator_event,device=cell02,action=sludge_raked",  # at once
        "operator_event,device=cell01,action=tapped",  # when the 10 min tap has ended
    ]
    assert all(check(line) is not None for line in lines)  # gateway replay takes every line
    # the tap's event carries the metal taken, at the instant the tap ended: not thinned to
    # the record's minutes
    rake, tap = events
    stamp = int(tap.rsplit(" ", 1)[1])
    assert (stamp - 1_767_225_600 * 10**9) % (60 * 10**9) != 0
    frames = list(read_frames(tmp_path / "every.lp.gz"))
    assert len(frames) == 61  # one per minute; the events are not a device's frame
    assert set(frames[-1][1]) == {"rectifier", "cell01", "cell01_feeder", "cell02", "cell02_feeder"}
    last_tap = frames[-1][1]["cell01"][1]["last_tap_kg"]
    assert f'detail="{last_tap:.1f} kg",metal_kg={last_tap!r} ' in tap
    assert ' detail="12.0 kg",sludge_kg=11.98' in rake  # what was left after 10 s


def test_the_step_and_product_list_options(capsys):
    from simulators.cli import build_parser

    args = build_parser().parse_args(["plant", "--step", "10s", "--product", "Nd,GdFe"])
    assert (args.step, args.product) == (10.0, ["Nd", "GdFe"])
    assert build_parser().parse_args(["plant"]).step == 1.0
    for bad in (["--step", "0"], ["--step", "11"], ["--product", "Nd,Cu"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["plant", *bad])
        assert "error: argument" in capsys.readouterr().err


def test_gateway_replay_writes_a_record_with_its_operator_events(tmp_path):
    from gateway.cli import main

    asyncio.run(record_run(tmp_path / "run.lp.gz", publish_every=0.0))
    config = tmp_path / "sinks.yaml"
    config.write_text("devices: []\nsinks:\n  file:\n    directory: out\n")
    assert main(["replay", str(tmp_path / "run.lp.gz"), "--config", str(config)]) == 0
    written = (tmp_path / "out" / "gateway.lp").read_text().splitlines()
    assert written == gzip.decompress((tmp_path / "run.lp.gz").read_bytes()).decode().splitlines()
    assert sum(line.startswith(EVENT + ",") for line in written) == 2
