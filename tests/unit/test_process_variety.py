"""Cell-to-cell variety: the cells of one line differ in bath chemistry, heat loss, cathode and
anodes, so their voltages and temperatures spread as a real line's; seeded and reproducible.

Targets (simulators/process/README.md, "Cell-to-cell variety"): at the nominal current every
cell within the published operating window (8-11 V, 1050 degC +- 20 K), with a line's
standard deviation of 0.05-0.25 V and 3-12 K."""

from __future__ import annotations

import statistics

import pytest

from simulators.process.plant import Plant


def spreads(plant: Plant) -> tuple[list[float], list[float]]:
    voltages = [float(plant.values(c.name)["cell_voltage"]) for c in plant.cells]
    temps = [float(plant.values(c.name)["bath_temp"]) for c in plant.cells]
    return voltages, temps


def assert_a_real_lines_spread(voltages: list[float], temps: list[float]) -> None:
    assert all(8.0 <= v <= 11.0 for v in voltages), voltages
    assert all(1030.0 <= t <= 1070.0 for t in temps), temps
    assert 0.05 <= statistics.pstdev(voltages) <= 0.25, voltages
    assert 3.0 <= statistics.pstdev(temps) <= 12.0, temps


@pytest.mark.parametrize("seed", range(8))
def test_a_line_starts_with_the_spread_of_a_real_line(seed):
    assert_a_real_lines_spread(*spreads(Plant(cells=12, seed=seed)))


def test_the_spread_holds_while_the_line_runs():
    plant = Plant(cells=12, seed=3)
    for _ in range(3600):
        plant.step(1.0)
    assert_a_real_lines_spread(*spreads(plant))


def test_each_cell_starts_in_its_own_steady_state():
    plant = Plant(cells=4, seed=2)
    start = [cell.temp for cell in plant.cells]
    for _ in range(1800):
        plant.step(1.0)
    # each cell holds its own temperature (the line's spread is not a transient) ...
    for cell, t0 in zip(plant.cells, start, strict=True):
        assert abs(cell.temp - t0) < 4.0, (cell.name, t0, cell.temp)
    # ... and the cells really differ: chemistry, heat loss, cathode, anode seating
    varieties = [cell.variety for cell in plant.cells]
    for field in ("lif_wt", "loss_factor", "cathode_extra", "anode_gaps", "oxide_delta"):
        assert len({getattr(v, field) for v in varieties}) == 4, field
    oxides = [float(plant.values(c.name)["lab_bath_lif"]) for c in plant.cells]
    assert len(set(oxides)) == 4


def test_the_variety_is_the_seeds_and_different_seeds_differ():
    a, b, other = Plant(cells=6, seed=21), Plant(cells=6, seed=21), Plant(cells=6, seed=22)
    assert [c.variety for c in a.cells] == [c.variety for c in b.cells]
    assert all(x.variety != y.variety for x, y in zip(a.cells, other.cells, strict=True))
    for _ in range(300):
        a.step(1.0)
        b.step(1.0)
    assert all(a.values(d) == b.values(d) for d in a.device_names())
    assert spreads(a) != spreads(other)


def test_a_kill_restores_the_cells_own_start_oxide_not_the_nominal_one():
    plant = Plant(cells=4, seed=3, operators=False)
    cell = max(plant.cells, key=lambda c: abs(c.c_start - c.p.c_start))
    assert abs(cell.c_start - cell.p.c_start) > 0.02  # this cell starts off the nominal 2.5
    plant.inject("anode_effect", cell.name)
    assert cell.ae
    plant.clear("anode_effect", cell.name)  # the crew's kill
    assert not cell.ae
    assert cell.oxide_conc == pytest.approx(cell.c_start, rel=1e-12)
