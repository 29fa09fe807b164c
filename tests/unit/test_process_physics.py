"""The process model against hand-computed physics: steady state, Faraday, anode effects,
tapping, the rectifier, faults and write validation."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest

from simulators.catalog import (
    CATALOG,
    CellAlarm,
    CellState,
    FeederAlarm,
    FeedMode,
    FeedRegime,
    Kind,
    RectifierAlarm,
    RectifierState,
)
from simulators.process.plant import Plant

# Faraday's law, from first principles (not from the module under test)
F_AH = 96485.33 / 3600.0  # A*h per mol of electrons
K_ND = 144.24 / (3 * F_AH)  # kg per kA*h: 1.794
K_PR = 140.91 / (3 * F_AH)  # 1.753
K_GD = 157.25 / (3 * F_AH)  # 1.956
K_PRND = 1.0 / (0.25 / K_PR + 0.75 / K_ND)  # didymium 25 % Pr
K_GDFE = K_GD / 0.75  # alloy with 75 wt% Gd
C_CRIT = 0.9 / 0.8  # wt% oxide: j_nominal 0.9 A/cm2 over k_crit 0.8 A/cm2 per wt%
HOUR = 3600


def val(plant: Plant, device: str) -> dict[str, Any]:
    """plant.values(), typed loosely for arithmetic in the assertions."""
    return plant.values(device)


def run(plant: Plant, seconds: int) -> None:
    for _ in range(seconds):
        plant.step(1.0)


def run_until(plant: Plant, condition: Callable[[], object], limit: int) -> int:
    """Step until condition() holds; return the seconds it took (fails after `limit`)."""
    for second in range(limit):
        if condition():
            return second
        plant.step(1.0)
    pytest.fail(f"condition not reached within {limit} s")


def cells(plant: Plant) -> list[str]:
    return [c.name for c in plant.cells]


@pytest.fixture(scope="module")
def settled_template() -> Plant:
    plant = Plant(seed=1, operators=False)  # the open-loop physics: no crew, no control loop
    run(plant, 2 * HOUR)
    return plant


@pytest.fixture
def settled(settled_template: Plant) -> Plant:
    """Twelve Nd cells at 6 kA after two simulated hours, open loop."""
    return copy.deepcopy(settled_template)


def test_steady_state_at_nominal_load(settled):
    rect = val(settled, "rectifier")
    voltages = [val(settled, c)["cell_voltage"] for c in cells(settled)]
    for name in cells(settled):
        v = val(settled, name)
        assert 8.0 <= v["cell_voltage"] <= 11.0, (name, v)
        assert v["bath_temp"] == pytest.approx(1050.0, abs=20.0), (name, v)
        assert v["cell_current"] == pytest.approx(6.0, rel=0.01)
        assert v["state"] in (CellState.RUN, CellState.FEEDING)
        assert v["alarm_word"] & CellAlarm.ANODE_EFFECT == 0
        assert 65.0 <= v["current_efficiency"] <= 82.0
        assert C_CRIT < v["oxide_conc"] <= 3.1  # in the window between AE and saturation
        assert 300.0 <= v["wall_temp"] <= 600.0
        assert v["pseudo_resistance"] == pytest.approx((v["cell_voltage"] - 1.8) / 6.0, rel=0.02)
    assert rect["state"] == RectifierState.REGULATING
    assert rect["line_current"] == pytest.approx(6.0, rel=0.01)
    # busbars add 10 uOhm per cell: 12 * 0.010 mOhm * 6 kA = 0.72 V on top of the cells
    assert rect["line_voltage"] == pytest.approx(sum(voltages) + 0.72, abs=0.5)
    assert rect["dc_power"] == pytest.approx(rect["line_voltage"] * rect["line_current"])


@pytest.mark.parametrize(("product", "k"), [("Nd", K_ND), ("PrNd", K_PRND), ("GdFe", K_GDFE)])
def test_production_is_faraday_times_current_efficiency(product, k):
    plant = Plant(cells=3, product=product, seed=4)
    run(plant, HOUR)
    start = val(plant, "cell02")
    currents, effs = [], []
    for _ in range(HOUR):
        plant.step(1.0)
        v = val(plant, "cell02")
        currents.append(v["cell_current"])
        effs.append(v["current_efficiency"] / 100.0)
    end = val(plant, "cell02")
    made = end["metal_in_receiver"] - start["metal_in_receiver"]
    expected = k * (sum(currents) / HOUR) * (sum(effs) / HOUR)  # kg in one hour
    assert made == pytest.approx(expected, rel=0.03)
    assert end["product"] == product
    # metal_produced_total counts the tapped product (alloy for GdFe) in whole kg
    assert end["metal_produced_total"] == int(plant.cells[1].produced)
    assert abs(plant.cells[1].produced - (end["metal_in_receiver"] - 2.0)) < 1e-6


def test_gdfe_cells_make_alloy_and_consume_the_iron_cathode():
    plant = Plant(cells=2, product=["Nd", "GdFe"], seed=5)
    run(plant, HOUR)
    nd, gdfe = plant.cells
    assert gdfe.product.name == "GdFe"
    # 25 % of the alloy is iron from the consumable cathode, none for Nd
    assert gdfe.fe_consumed_kg == pytest.approx(0.25 * gdfe.produced, rel=1e-9)
    assert nd.fe_consumed_kg == 0.0
    # same current, similar efficiency: alloy rate / Nd rate ~ K_GDFE / K_ND = 1.45
    assert gdfe.produced / nd.produced == pytest.approx(K_GDFE / K_ND, rel=0.05)


def test_feed_stop_causes_an_anode_effect_and_auto_feeding_clears_it(settled):
    plant = settled
    plant.set_feed_mode("cell01", FeedMode.OFF)
    run_until(plant, lambda: val(plant, "cell01")["state"] == CellState.ANODE_EFFECT, 3 * HOUR)
    # consumption without feeding: the oxide is at the critical level j / k_crit
    assert val(plant, "cell01")["oxide_conc"] == pytest.approx(C_CRIT, abs=0.02)
    run(plant, 30)  # the off-gas analyser has a 10 s lag
    v = val(plant, "cell01")
    assert v["state"] == CellState.ANODE_EFFECT
    assert v["cell_voltage"] >= 15.0
    assert v["cf4_ppm"] > 1000.0
    assert v["alarm_word"] & CellAlarm.ANODE_EFFECT
    assert v["alarm_word"] & CellAlarm.VOLTAGE_HIGH
    assert v["ae_count"] == 1
    assert v["current_efficiency"] == pytest.approx(20.0)
    assert val(plant, "cell02")["ae_count"] == 0
    totalizer = val(plant, "cell01_feeder")["feed_totalizer"]

    plant.set_feed_mode("cell01", FeedMode.AUTO_RESISTANCE)
    took = run_until(plant, lambda: val(plant, "cell01")["state"] != CellState.ANODE_EFFECT, 900)
    assert took < 300  # kill shot: 3 kg in a minute, dissolving with a 2 min time constant
    assert val(plant, "cell01_feeder")["feed_totalizer"] - totalizer >= 2.0
    v = val(plant, "cell01")
    assert v["cell_voltage"] < 11.0
    assert v["alarm_word"] & CellAlarm.ANODE_EFFECT == 0
    run(plant, HOUR)  # an hour of overfeeding after the effect
    v = val(plant, "cell01")
    assert v["oxide_conc"] > C_CRIT + 0.5
    assert v["cf4_ppm"] < 10.0
    assert v["ae_count"] == 1


def test_resistance_tracking_keeps_the_oxide_in_its_window_for_a_day():
    plant = Plant(cells=2, seed=8)
    lowest, highest, overfeeds = 9.0, 0.0, 0
    regime = [c.feeder.regime for c in plant.cells]
    for hour in range(24):
        if hour % 6 == 5:
            for name in cells(plant):
                plant.tap(name)
        for _ in range(HOUR):
            plant.step(1.0)
            for k, cell in enumerate(plant.cells):
                lowest = min(lowest, cell.oxide_conc)
                highest = max(highest, cell.oxide_conc)
                overfeeds += (
                    cell.feeder.regime != regime[k] and cell.feeder.regime == FeedRegime.OVER
                )
                regime[k] = cell.feeder.regime
    assert [val(plant, c)["ae_count"] for c in cells(plant)] == [0, 0]
    assert lowest > C_CRIT + 0.2
    assert highest < 3.0  # below saturation: no sludge
    assert all(c.m_sludge < 0.5 for c in plant.cells)
    # a cycle is ~1.5 h underfeeding and 1 h overfeeding: ~9 a day per cell
    assert 10 <= overfeeds <= 25


def test_a_line_current_change_makes_resistance_tracking_feed_nominal_for_a_while(settled):
    plant = settled
    feeders = [f"{c}_feeder" for c in cells(plant)]
    before = [val(plant, f)["regime"] for f in feeders]
    assert FeedRegime.UNDER in before
    plant.set_line_current(5.0)
    run(plant, 60)
    after = [val(plant, f)["regime"] for f in feeders]
    for was, now in zip(before, after, strict=True):
        # an underfeed needs a new 30 min window first; an overfeed runs out its hour
        assert now in (
            (FeedRegime.OVER, FeedRegime.NOMINAL)
            if was == FeedRegime.OVER
            else (FeedRegime.NOMINAL,)
        )
    nominal = feeders[after.index(FeedRegime.NOMINAL)]
    rate = val(plant, nominal)["feed_rate_setpoint"]
    assert rate == pytest.approx(1.166 * K_ND * 5.0 * 0.75, rel=0.01)  # Nd2O3 for 5 kA at 75 %
    run(plant, 40 * 60)  # the window has refilled
    assert FeedRegime.NOMINAL not in [val(plant, f)["regime"] for f in feeders]


def test_tapping_empties_the_receiver_to_the_heel_and_counts(settled):
    plant = settled
    before = val(plant, "cell03")["metal_in_receiver"]
    assert before > 15.0  # two hours at ~8 kg/h on a 2 kg heel
    plant.write("cell03", "tap_request", True)
    v = val(plant, "cell03")
    assert v["state"] == CellState.TAPPING
    assert v["tap_request"] is True
    run(plant, 300)
    halfway = val(plant, "cell03")["metal_in_receiver"]
    assert 2.0 < halfway < before  # the receiver ramps down over the 10 min
    run(plant, 300)
    v = val(plant, "cell03")
    assert v["metal_in_receiver"] == pytest.approx(2.0, abs=0.05)
    assert v["tap_count"] == 1
    # what was there plus ~10 min of production (1.3 kg), minus the heel
    assert before - 2.0 < v["last_tap_kg"] < before - 2.0 + 2.0
    assert v["state"] != CellState.TAPPING
    assert v["tap_request"] is False


def test_a_full_receiver_is_capped_and_production_collapses():
    plant = Plant(cells=1, seed=6, operators=False)  # nobody taps it
    capacity = plant.cells[0].receiver_capacity
    assert capacity == pytest.approx(13.0 * 6.0)
    run(plant, 11 * HOUR)  # ~8 kg/h from a 2 kg heel fills 78 kg in ~9.5 h
    v = val(plant, "cell01")
    assert v["metal_in_receiver"] == pytest.approx(capacity)
    assert v["current_efficiency"] == pytest.approx(5.0)
    total = v["metal_produced_total"]
    run(plant, HOUR)
    assert val(plant, "cell01")["metal_produced_total"] - total <= 1


def test_the_rectifier_holds_and_ramps_to_its_setpoint(settled):
    plant = settled
    plant.write("rectifier", "line_current_sp", 5.0)
    run(plant, 10)
    # 50 A/s ramp: 1 kA down takes 20 s
    assert val(plant, "rectifier")["line_current"] == pytest.approx(5.5, abs=0.05)
    assert val(plant, "rectifier")["state"] == RectifierState.RAMP
    run(plant, 120)
    rect = val(plant, "rectifier")
    assert rect["line_current"] == pytest.approx(5.0, rel=0.01)
    assert rect["line_current_sp"] == 5.0
    assert rect["state"] == RectifierState.REGULATING
    assert val(plant, "cell05")["cell_current"] == pytest.approx(5.0, rel=0.01)


def test_anode_effects_on_several_cells_sag_the_line_current(settled):
    plant = settled
    nominal_cell_v = plant.rectifier.v_max / (1.25 * 12)
    assert 8.0 < nominal_cell_v < 11.0
    for name in ("cell02", "cell05", "cell07", "cell09"):
        plant.inject("anode_effect", name)
    run(plant, 5)
    rect = val(plant, "rectifier")
    assert rect["line_current"] < 0.9 * 6.0
    assert rect["state"] == RectifierState.LIMIT
    assert rect["alarms"] & RectifierAlarm.V_LIMIT
    # the voltage sits at the limit, give or take the anode effects' voltage noise
    volts = []
    for _ in range(20):
        plant.step(1.0)
        volts.append(val(plant, "rectifier")["line_voltage"])
    assert sum(volts) / 20 == pytest.approx(1.25 * 12 * nominal_cell_v, rel=0.02)
    for name in ("cell02", "cell05", "cell07", "cell09"):
        assert val(plant, name)["state"] == CellState.ANODE_EFFECT
        assert val(plant, name)["ae_count"] == 1
    # the kill shots clear the effects and the current ramps back
    run_until(plant, lambda: val(plant, "rectifier")["state"] == RectifierState.REGULATING, 900)
    run(plant, 30)
    assert val(plant, "rectifier")["line_current"] == pytest.approx(6.0, rel=0.01)
    assert val(plant, "rectifier")["state"] == RectifierState.REGULATING


def test_a_trip_drops_the_current_and_a_reset_ramps_it_back(settled):
    plant = settled
    temp = plant.cells[0].temp
    plant.inject("rectifier_trip")
    run(plant, 2)
    rect = val(plant, "rectifier")
    assert rect["line_current"] < 0.01
    assert rect["state"] == RectifierState.TRIPPED
    assert rect["alarms"] & RectifierAlarm.TRIP
    assert val(plant, "cell01")["state"] == CellState.SHUTDOWN
    run(plant, 15 * 60)
    # no power: the cell loses K_loss (T - T_amb) ~ 34 kW into ~3.35 MJ/K: ~37 K/h
    drop = temp - plant.cells[0].temp
    assert 5.0 < drop < 15.0
    plant.write("rectifier", "reset_request", True)
    run(plant, 30)
    rect = val(plant, "rectifier")
    assert rect["state"] == RectifierState.RAMP
    assert rect["line_current"] == pytest.approx(1.5, abs=0.05)  # 50 A/s for 30 s
    assert rect["alarms"] & RectifierAlarm.TRIP == 0
    run(plant, 150)
    rect = val(plant, "rectifier")
    assert rect["state"] == RectifierState.REGULATING
    assert rect["line_current"] == pytest.approx(6.0, rel=0.01)


def test_the_energy_counter_integrates_dc_power(settled):
    plant = settled
    start = val(plant, "rectifier")["energy_total"]
    powers = []
    for _ in range(HOUR):
        plant.step(1.0)
        powers.append(val(plant, "rectifier")["dc_power"])
    mean_kw = sum(powers) / len(powers)
    assert 500.0 < mean_kw < 800.0  # 12 cells * ~9 V * 6 kA
    assert val(plant, "rectifier")["energy_total"] - start == pytest.approx(mean_kw, rel=0.01)


def test_thermocouple_open_reads_full_scale_with_bad_status(settled):
    plant = settled
    plant.inject("thermocouple_open", "cell04")
    run(plant, 1)
    v = val(plant, "cell04")
    assert v["bath_temp"] == 1372.0
    assert plant.bad("cell04") == {"bath_temp": "BadSensorFailure"}
    assert v["alarm_word"] & CellAlarm.TC_FAIL
    assert v["alarm_word"] & CellAlarm.TEMP_HIGH == 0  # the PLC knows the reading is broken
    assert plant.bad("cell05") == {}
    plant.clear("thermocouple_open", "cell04")
    run(plant, 1)
    assert val(plant, "cell04")["bath_temp"] == pytest.approx(1050.0, abs=20.0)
    assert plant.bad("cell04") == {}


def test_a_jammed_feeder_delivers_nothing_and_draws_high_current(settled):
    plant = settled
    plant.inject("feeder_jam", "cell03_feeder")
    before = val(plant, "cell03_feeder")
    run(plant, 600)
    after = val(plant, "cell03_feeder")
    assert after["feed_totalizer"] == before["feed_totalizer"]
    assert after["shot_count"] == before["shot_count"]
    assert after["screw_motor_current"] > 10.0
    assert after["alarms"] & FeederAlarm.JAM
    assert after["alarms"] & FeederAlarm.NO_FLOW
    assert after["feed_rate_actual"] < 0.5 * before["feed_rate_actual"]
    plant.clear("feeder_jam", "cell03_feeder")
    run(plant, 600)
    cleared = val(plant, "cell03_feeder")
    assert cleared["feed_totalizer"] > after["feed_totalizer"] + 0.9  # at least two shots
    assert cleared["alarms"] & FeederAlarm.JAM == 0
    assert cleared["screw_motor_current"] < 10.0


def test_the_hopper_refills_from_20_to_90_percent():
    plant = Plant(cells=1, seed=7)
    feeder = "cell01_feeder"
    start = val(plant, feeder)
    assert start["hopper_level"] == pytest.approx(60.0, abs=1.0)
    assert start["refill_valve"] is False
    # ~9 kg/h from 126 kg down to 42 kg (20 % of 210 kg): about nine hours
    run_until(plant, lambda: val(plant, feeder)["refill_valve"], 12 * HOUR)
    v = val(plant, feeder)
    assert v["hopper_level"] == pytest.approx(20.0, abs=1.5)
    took = run_until(plant, lambda: not val(plant, feeder)["refill_valve"], HOUR)
    # 70 % of 210 kg at 300 kg/h (less the feed) takes ~30 min
    assert 25 * 60 < took < 35 * 60
    v = val(plant, feeder)
    assert v["hopper_level"] == pytest.approx(90.0, abs=1.5)
    assert v["alarms"] & FeederAlarm.HOPPER_LOW == 0


def test_an_empty_hopper_stops_delivery_until_cleared(settled):
    plant = settled
    plant.inject("hopper_empty", "cell06")  # a cell name selects its feeder too
    run(plant, 600)
    v = val(plant, "cell06_feeder")
    totalizer = v["feed_totalizer"]
    assert v["hopper_weight"] == pytest.approx(0.0, abs=1.0)
    assert v["alarms"] & FeederAlarm.HOPPER_EMPTY
    assert v["alarms"] & FeederAlarm.HOPPER_LOW
    assert v["alarms"] & FeederAlarm.NO_FLOW
    assert v["refill_valve"] is False  # refill blocked while the fault is on
    run(plant, 600)
    assert val(plant, "cell06_feeder")["feed_totalizer"] == totalizer
    plant.clear("hopper_empty", "cell06_feeder")
    run(plant, 1)
    assert val(plant, "cell06_feeder")["refill_valve"] is True
    run(plant, 45 * 60)
    v = val(plant, "cell06_feeder")
    assert v["hopper_level"] == pytest.approx(90.0, abs=1.5)
    assert v["feed_totalizer"] > totalizer


def test_changing_an_anode_resets_the_gap_and_cools_the_bath(settled):
    plant = settled
    cell = plant.cells[6]
    acd, temp = cell.acd, cell.temp
    assert acd > 9.0
    plant.change_anode("cell07")
    v = val(plant, "cell07")
    assert v["state"] == CellState.ANODE_CHANGE
    assert v["anode_remaining"] == 100.0
    assert v["acd"] == 9.0
    run(plant, 1200)
    assert val(plant, "cell07")["state"] != CellState.ANODE_CHANGE
    # 5 K out over 20 min, plus a smaller gap (lower voltage) heats less
    assert 3.0 < temp - cell.temp < 12.0


def test_values_hold_every_catalog_tag_with_the_right_type(settled):
    types = {
        Kind.FLOAT: float,
        Kind.INT: int,
        Kind.ENUM: int,
        Kind.BITS: int,
        Kind.BOOL: bool,
        Kind.TEXT: str,
    }
    names = settled.device_names()
    assert names[:3] == ["rectifier", "cell01", "cell01_feeder"]
    assert len(names) == 25
    for device in names:
        kind = settled.kind(device)
        values = val(settled, device)
        assert list(values) == [t.name for t in CATALOG[kind]]
        for tag in CATALOG[kind]:
            value = values[tag.name]
            assert type(value) is types[tag.kind], (device, tag.name, value)
            if isinstance(value, float):
                assert math.isfinite(value)


@pytest.mark.parametrize(
    ("device", "tag", "value", "message"),
    [
        ("cell99", "tap_request", True, "unknown device"),
        ("cell01", "cell_voltage", 9.0, "read-only"),
        ("cell01", "no_such_tag", 1, "no tag"),
        ("cell01", "tap_request", "yes", "boolean"),
        ("cell01", "tap_request", 2, "boolean"),
        ("cell01_feeder", "mode", 7, "not a FeedMode"),
        ("cell01_feeder", "mode", True, "FeedMode"),
        ("cell01_feeder", "mode", 1.0, "FeedMode"),
        ("rectifier", "line_current_sp", -1.0, "outside"),
        ("rectifier", "line_current_sp", 8.0, "outside"),  # rated 125 % of 6 kA
        ("rectifier", "line_current_sp", float("nan"), "outside"),
        ("rectifier", "line_current_sp", "6", "number"),
        ("rectifier", "reset_request", None, "boolean"),
        ("rectifier", "energy_total", 0, "read-only"),
    ],
)
def test_write_rejects_bad_tags_and_values(settled, device, tag, value, message):
    with pytest.raises(ValueError, match=message):
        settled.write(device, tag, value)


def test_writes_that_are_accepted_act_on_the_plant(settled):
    settled.write("cell02_feeder", "mode", int(FeedMode.MANUAL))
    assert val(settled, "cell02_feeder")["mode"] == FeedMode.MANUAL
    settled.write("rectifier", "line_current_sp", 7)
    assert val(settled, "rectifier")["line_current_sp"] == 7.0
    settled.write("cell02", "tap_request", False)  # false is no command
    assert val(settled, "cell02")["tap_request"] is False
    settled.write("rectifier", "reset_request", 1)  # not tripped: nothing to reset
    assert val(settled, "rectifier")["state"] != RectifierState.TRIPPED


def test_constructor_and_fault_arguments_are_checked():
    with pytest.raises(ValueError, match="unknown product"):
        Plant(cells=2, product="Dy")
    with pytest.raises(ValueError, match="2 products given for 3 cells"):
        Plant(cells=3, product=["Nd", "GdFe"])
    with pytest.raises(ValueError, match="cells"):
        Plant(cells=0)
    plant = Plant(cells=2, product=("PrNd", "GdFe"))
    assert [c.product.name for c in plant.cells] == ["PrNd", "GdFe"]
    assert plant.kind("cell02_feeder") == "feeder"
    with pytest.raises(ValueError, match="unknown fault"):
        plant.inject("meltdown", "cell01")
    with pytest.raises(ValueError, match="target"):
        plant.inject("feeder_jam")
    with pytest.raises(ValueError, match="not a cell"):
        plant.inject("thermocouple_open", "rectifier")
    with pytest.raises(ValueError, match="not a cell"):
        plant.tap("cell01_feeder")
    with pytest.raises(ValueError, match="unknown device"):
        plant.change_anode("cell03")
    with pytest.raises(ValueError, match="dt"):
        plant.step(0.0)
