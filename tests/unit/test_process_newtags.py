"""The tags real potlines log, against first principles: carbon and oxygen balances of the
off-gas, C2F6 beside CF4 in anode effects only, electrode drops and anode currents, the Gd-Fe
iron cathode by Faraday, and lab analyses with their own sample times."""

from __future__ import annotations

import math
from typing import Any

import pytest

from simulators.process.plant import Plant

# first principles (not from the modules under test)
F_AH = 96485.33 / 3600.0
K_GD = 157.25 / (3 * F_AH)  # kg Gd per kA*h
K_ND = 144.24 / (3 * F_AH)  # kg Nd per kA*h
O_PER_ND = 3 * 15.999 / (2 * 144.24)  # kg O per kg Nd in Nd2O3
MOL_NM3 = 0.0224141  # Nm3 per mol of ideal gas
C2F6_PER_CF4 = 0.121 * 88.004 / 138.01  # IPCC 2006 default mass ratio, as a volume ratio
HOUR = 3600


def val(plant: Plant, device: str) -> dict[str, Any]:
    return plant.values(device)


def gas_mol(v: dict[str, Any], pct: float) -> float:
    """mol/s of a component at `pct` vol% of the cell's off-gas flow."""
    return pct / 100.0 * v["offgas_flow"] / 3600.0 / MOL_NM3


def gas_hour(plant: Plant) -> tuple[float, float, float, float]:
    """One hour of cell01 from its tags: kg of C and O in the off-gas, kg of Nd its charge
    makes at 100 % (Faraday), and the anode carbon it lost."""
    cell = plant.cells[0]
    anode0 = cell.m_anode
    carbon = oxygen = faraday = 0.0
    for _ in range(HOUR):
        plant.step(1.0)
        v = val(plant, "cell01")
        carbon += (gas_mol(v, v["co_pct"]) + gas_mol(v, v["co2_pct"])) * 12.011e-3
        oxygen += (gas_mol(v, v["co_pct"]) + 2 * gas_mol(v, v["co2_pct"])) * 15.999e-3
        faraday += K_ND * v["cell_current"] / HOUR
    return carbon, oxygen, faraday, anode0 - cell.m_anode


def test_carbon_and_oxygen_of_the_off_gas_balance_the_anode_and_the_charge():
    plant = Plant(cells=2, seed=8)
    plant.step(600.0)
    carbon, oxygen, faraday, burnt = gas_hour(plant)
    assert faraday > 7.0  # kg Nd for the charge of an hour at 6 kA
    # every kg of carbon the anode lost left as CO or CO2
    assert carbon == pytest.approx(burnt, rel=1e-6)
    # the anode follows the charge: 0.14 kg C per kg of metal at the nominal 75 % efficiency
    eta0 = 0.75
    assert carbon / faraday == pytest.approx(0.14 * eta0, rel=2e-3)
    # the oxygen: the oxide ions the charge discharged, plus the air's that burns the
    # 0.05 kg C/kg (per kg at the nominal efficiency) to CO2
    air_o = 2 * 0.05 * eta0 * faraday / 12.011 * 15.999
    assert oxygen == pytest.approx(O_PER_ND * faraday + air_o, rel=2e-3)
    v = val(plant, "cell01")
    assert 0.03 < v["co_pct"] < 0.3  # the charge's oxygen takes most of the carbon to CO2
    assert 0.3 < v["co2_pct"] < 1.5
    assert 250.0 < v["offgas_flow"] < 350.0  # ~50 Nm3/h per kA


def test_a_full_receiver_cuts_the_metal_but_not_the_anode_gas_or_the_burn():
    plant = Plant(cells=1, seed=8, operators=False)
    plant.step(600.0)
    normal = gas_hour(plant)
    cell = plant.cells[0]
    cell.m_metal = cell.receiver_capacity  # full: the efficiency drops to 5 %
    full = gas_hour(plant)
    assert cell.eta == pytest.approx(0.05)
    assert full[2] == pytest.approx(normal[2], rel=0.01)  # the same charge passed
    assert full[0] == pytest.approx(normal[0], rel=0.01)  # the same carbon in the off-gas
    assert full[3] == pytest.approx(normal[3], rel=0.01)  # and off the anode


def test_c2f6_appears_only_in_anode_effects_at_the_published_ratio():
    plant = Plant(cells=2, seed=6)
    for _ in range(1800):
        plant.step(1.0)
        assert all(val(plant, c.name)["c2f6_ppm"] == 0.0 for c in plant.cells)
    plant.inject("anode_effect", "cell02")
    peak = 0.0
    for _ in range(60):
        plant.step(1.0)
        v = val(plant, "cell02")
        if plant.cells[1].ae:
            assert v["c2f6_ppm"] == pytest.approx(C2F6_PER_CF4 * v["cf4_ppm"], rel=1e-12)
            peak = max(peak, v["c2f6_ppm"])
        assert val(plant, "cell01")["c2f6_ppm"] == 0.0
    assert peak > 50.0  # CF4 in the thousands of ppm
    plant.clear("anode_effect", "cell02")
    plant.step(300.0)
    assert val(plant, "cell02")["c2f6_ppm"] < peak * 1e-6  # the analyser clears


def test_electrode_drops_and_anode_currents_add_up():
    plant = Plant(cells=2, seed=9)
    plant.step(300.0)
    v = val(plant, "cell01")
    drops = v["anode_drop"] + v["bath_drop"] + v["cathode_drop"]
    back_emf = v["cell_voltage"] - drops  # E_rev 1.8 V + anode overvoltage + bubbles
    assert 1.9 < back_emf < 2.6, v
    assert 5.0 < v["bath_drop"] < 7.5  # the melt's IR drop, 4.43 V at 4.01 kA measured
    assert 0.1 < v["anode_drop"] < 0.4
    assert 0.05 < v["cathode_drop"] < 0.4
    anodes = [v[f"anode{k}_current"] for k in range(1, 5)]
    assert sum(anodes) == pytest.approx(v["cell_current"], rel=1e-12)
    assert max(anodes) - min(anodes) > 0.01  # the blocks do not sit alike
    plant.inject("anode_effect", "cell01")
    plant.step(2.0)
    assert val(plant, "cell01")["bath_drop"] > 10.0  # the gas film


def test_anode_position_follows_the_burn_off_and_resets_at_a_change():
    plant = Plant(cells=1, seed=2, operators=False)  # no temperature loop moving the anode
    before = val(plant, "cell01")["anode_position"]
    plant.step(2 * HOUR)
    after = val(plant, "cell01")["anode_position"]
    assert 0.0 < before < after < 150.0
    plant.change_anode("cell01")
    plant.step(1.0)
    assert val(plant, "cell01")["anode_position"] < 0.01


def test_anode_position_includes_the_positioners_moves():
    plant = Plant(cells=1, seed=2, operators=False)
    plant.step(600.0)
    cell = plant.cells[0]
    before = val(plant, "cell01")["anode_position"]
    cell.set_acd(cell.acd + 0.5)  # the temperature loop raises the anode by 5 mm
    assert val(plant, "cell01")["anode_position"] == pytest.approx(before - 5.0, abs=1e-9)
    worn0, held = cell.m_anode, cell.acd
    plant.step(2 * HOUR)  # held against the wear: lowered by the burn and the gap it opens
    burnt = (worn0 - cell.m_anode) / cell.anode_new_kg
    gap_mm = 10.0 * (cell.p.acd_worn - cell.p.acd_new) * burnt
    expected = before - 5.0 + 150.0 * burnt + gap_mm
    assert cell.acd == held
    assert val(plant, "cell01")["anode_position"] == pytest.approx(expected, rel=1e-9)
    cell.change_anode()  # a new anode, set at the held gap: the hanger starts again from 0
    assert val(plant, "cell01")["anode_position"] == pytest.approx(0.0, abs=1e-9)


def test_the_gdfe_iron_cathode_is_consumed_as_faraday_says():
    plant = Plant(cells=2, product=["Nd", "GdFe"], seed=5)
    plant.step(600.0)
    fe0 = val(plant, "cell02")["fe_consumed_total"]
    gd = 0.0  # kg of Gd by Faraday, from the published current and efficiency
    for _ in range(HOUR):
        plant.step(1.0)
        v = val(plant, "cell02")
        gd += K_GD * v["cell_current"] * v["current_efficiency"] / 100.0 / HOUR
    fe = val(plant, "cell02")["fe_consumed_total"] - fe0
    assert fe == pytest.approx(gd * 25.0 / 75.0, rel=0.01)  # the alloy is 75 wt% Gd
    assert val(plant, "cell01")["fe_consumed_total"] == 0.0
    lab = val(plant, "cell02")
    assert 73.0 < lab["lab_metal_re"] < 77.0
    assert 23.0 < lab["lab_metal_fe"] < 27.0
    assert lab["lab_metal_re"] + lab["lab_metal_fe"] < 100.0


def test_lab_results_come_late_at_irregular_times_with_their_sample_time():
    plant = Plant(cells=1, seed=4)
    plant.epoch_ns = 1_800_000_000 * 10**9 + 250_000_000
    oxide: dict[int, float] = {}
    published: list[tuple[int, dict[str, Any]]] = []
    last = val(plant, "cell01")["lab_sample_time"]
    assert last == 1_800_000_000  # the start-up sample
    for second in range(1, 20 * HOUR + 1):
        plant.step(1.0)
        oxide[second] = plant.cells[0].oxide_conc
        if second % 10:  # reading every 10 s is enough to see when results appear
            continue
        v = val(plant, "cell01")
        if v["lab_sample_time"] != last:
            last = v["lab_sample_time"]
            published.append((second, v))
    assert 3 <= len(published) <= 7  # every 3-6 h
    taken = [v["lab_sample_time"] - 1_800_000_000 for _, v in published]
    gaps = [b - a for a, b in zip([0, *taken], taken, strict=False)]
    assert all(3 * HOUR <= g <= 6 * HOUR + 3600 for g in gaps), gaps
    assert len(set(gaps)) == len(gaps)  # irregular
    for (second, v), at in zip(published, taken, strict=True):
        assert 20 * 60 <= second - at <= 60 * 60 + 10  # analysed after the sampling
        assert v["lab_bath_oxide"] == pytest.approx(oxide[at], abs=0.25)  # of the sample's bath
        assert 99.0 < v["lab_metal_re"] < 99.95
        assert 0.0 < v["lab_metal_fe"] < 0.5
        assert v["lab_bath_lif"] == pytest.approx(plant.cells[0].variety.lif_wt, abs=0.5)


def test_the_off_gas_reads_the_running_cell_from_the_start():
    plant = Plant(cells=1, seed=1)
    start = val(plant, "cell01")
    plant.step(1.0)
    first = val(plant, "cell01")
    for tag in ("co_pct", "co2_pct"):
        assert start[tag] == pytest.approx(first[tag], rel=0.05), tag


@pytest.mark.parametrize("step", [1.0, 10.0])
def test_c2f6_decays_exponentially_after_an_effect_whatever_the_step(step):
    from simulators.process.offgas import OffGas
    from simulators.process.params import PRODUCTS, CellParams

    gas = OffGas(PRODUCTS["Nd"], CellParams())
    gas.step(1.0, 0.001, 1000.0, ae=True)
    peak = gas.c2f6
    assert peak == pytest.approx(C2F6_PER_CF4 * 1000.0)
    for _ in range(round(20.0 / step)):  # 20 s after the effect, tau = 10 s
        gas.step(step, 0.001, 0.0, ae=False)
    assert gas.c2f6 == pytest.approx(peak * math.exp(-2.0), rel=1e-9)
