"""A full week of the potline, run as `python -m simulators plant --speed max --step 10`
runs it (the CLI's PlantRunner at speed=None, here on a fake clock and without servers or a
record file), keeps every tag of every device in its range of simulators/tagranges.py at
every simulated minute: no alarm, no failed sensor, the rectifier regulating.

The servers and the record are what make the CLI's week expensive (tests/integration/
test_simulated_week.py runs one day of it); here the physics of the week costs ~12 s of CPU
(on 2 shared cores) and reading and checking all 25 devices every minute ~2 s more.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest

from gateway.testing import FakeClock
from simulators.catalog import CATALOG, RectifierState
from simulators.cli import build_parser
from simulators.process.operators import Action
from simulators.process.plant import Plant
from simulators.runner import PlantRunner
from simulators.tagranges import limits, out_of_range, outside

DAYS = 7
CELLS = 12
PRODUCTS = ("Nd", "PrNd", "GdFe")
START = "2026-01-05T06:00:00+00:00"
# the command line of the integration test's run, for a week
ARGS = [
    *("plant", "--speed", "max", "--step", "10", "--cells", str(CELLS)),
    *("--product", ",".join(PRODUCTS), "--seed", "3", "--start", START),
    *("--duration", f"{DAYS}d"),
]
MINUTE_NS = 60 * 10**9
NAMES = {kind: {tag.name for tag in tags} for kind, tags in CATALOG.items()}


@dataclass
class RangeWatch:
    """In the runner's recorder's place: sees the plant after every step and checks every
    tag of every device at each simulated minute; counts the crew's actions."""

    start_ns: int
    cells: int
    samples: int = 0
    outside: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)  # anything else amiss
    actions: Counter[tuple[str, str]] = field(default_factory=Counter)
    _next_ns: int = 0

    def record(self, plant: Plant, time_ns: int) -> None:
        if time_ns < self._next_ns:
            return
        self._next_ns = time_ns - (time_ns - self.start_ns) % MINUTE_NS + MINUTE_NS
        self.samples += 1
        now_s, hours = time_ns / 1e9, (time_ns - self.start_ns) / 3.6e12
        # the bounds of each kind at this minute, then every device against its kind's
        by_kind = {kind: limits(kind, self.cells, self.start_ns / 1e9, now_s) for kind in CATALOG}
        for device in plant.device_names():
            kind, values, bad = plant.kind(device), plant.values(device), plant.bad(device)
            if values.keys() != NAMES[kind] or bad:
                self._amiss(f"{device} at {hours:.3f} h: tags or sensors {bad}")
            for tag, (value, low, high) in outside(values, by_kind[kind]).items():
                self.outside.setdefault(f"{device}.{tag}", (value, low, high, hours))
        if plant.values("rectifier")["state"] != RectifierState.REGULATING:
            self._amiss(f"rectifier at {hours:.3f} h: not regulating")

    def _amiss(self, what: str) -> None:
        if len(self.wrong) < 20:  # the first few tell; a broken week would list thousands
            self.wrong.append(what)

    def event(self, action: Action, time_ns: int) -> None:
        self.actions[(action.device, action.action)] += 1


@dataclass
class Week:
    plant: Plant
    watch: RangeWatch
    steps: int


def run_week() -> Week:
    args = build_parser().parse_args(ARGS)
    # the plant and the runner as cmd_plant and serve() make them, without the servers
    plant = Plant(
        cells=args.cells,
        product=[args.product[n % len(args.product)] for n in range(args.cells)],
        seed=args.seed,
        operators=args.operators == "on",
        max_step=args.step,
    )
    plant.epoch_ns = args.start
    watch = RangeWatch(args.start, args.cells)
    runner = PlantRunner(
        plant,
        dt=args.step,
        epoch_ns=args.start,
        speed=args.speed,
        duration=args.duration,
        recorder=watch,  # type: ignore[arg-type]
        clock=FakeClock(),
    )
    cpu, wall = time.process_time(), time.perf_counter()
    asyncio.run(runner.run())
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{DAYS} simulated days: {cpu:.1f} s of CPU, {wall:.1f} s wall")  # pytest -s
    return Week(plant, watch, runner.steps)


@pytest.fixture(scope="module")
def week() -> Week:
    return run_week()


def test_the_week_runs_as_the_command_line_runs_it(week):
    args = build_parser().parse_args(ARGS)
    assert args.speed is None  # "max"
    assert args.step == 10.0
    assert args.operators == "on"
    assert week.plant.t == DAYS * 86400
    assert week.steps == DAYS * 8640  # 10 s steps
    assert week.watch.samples == DAYS * 1440 + 1  # every minute, and t = 0
    for n, cell in enumerate(week.plant.cells):
        assert week.plant.values(cell.name)["product"] == PRODUCTS[n % len(PRODUCTS)]


def test_every_tag_of_every_device_stays_in_range_every_minute_of_the_week(week):
    assert week.watch.wrong == []
    assert week.watch.outside == {}, "\n".join(
        f"{k}: {v}" for k, v in sorted(week.watch.outside.items())
    )


def test_the_crew_tapped_and_changed_anodes_all_week(week):
    plant, actions = week.plant, week.watch.actions
    changed = 0
    for cell in plant.cells:
        values = plant.values(cell.name)
        assert actions[(cell.name, "tapped")] == values["tap_count"] >= 4 * DAYS
        assert actions[(cell.name, "anode changed")] == values["anode_changes"]
        changed += int(values["anode_changes"])
    assert changed > 0  # the week covers the anode changes too


def test_the_range_check_reports_a_tag_out_of_its_range():
    plant = Plant(cells=2, seed=3)
    plant.epoch_ns = start = 1_767_600_000 * 10**9
    values = dict(plant.values("cell01"))
    assert out_of_range("cell", values, 2, start / 1e9, start / 1e9) == {}
    values["bath_temp"] = 1075.0
    values["lab_sample_time"] = start / 1e9 - 1.0  # before the run began
    outside = out_of_range("cell", values, 2, start / 1e9, start / 1e9 + 60.0)
    assert outside == {
        "bath_temp": (1075.0, 1030.0, 1070.0),
        "lab_sample_time": (start / 1e9 - 1.0, start / 1e9, start / 1e9 + 60.0),
    }
    # a counter's bound grows with the run; the rectifier's line values with its cells
    line = dict(plant.values("rectifier"))
    line["energy_total"] = 100.0
    assert "energy_total" in out_of_range("rectifier", line, 1, 0.0, 3600.0)  # 72 kWh
    assert "energy_total" not in out_of_range("rectifier", line, 2, 0.0, 3600.0)  # 144
