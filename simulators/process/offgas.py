"""The off-gas of one cell: CO and CO2 from the anode carbon, C2F6 beside CF4 in anode
effects, and the hood's off-gas flow, so that emissions per tonne can be computed.

The anode reacts with all the charge that passes (Faraday's law on the anode side), whatever
the cathode's current efficiency: metal lost at the cathode re-oxidises to oxide in the bath.
Mass balances hold by construction, per step, with `charge_kg` the metal the charge would
make at 100 %:
- oxygen: the O of the oxide ions the charge discharges (charge_kg times the oxide's O per
  metal) leaves as CO + 2 CO2 of the electrochemical gas;
- carbon: the anode carbon the cell burns (`carbon_per_charge_kg` per kg) leaves as CO + CO2:
  the electrochemical part, and the air burn at the open top as CO2.
The CO:CO2 split follows from these two balances. The carbon of the PFCs (grams per anode
effect) is not booked against the anode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulators.process.params import M_O, CellParams, Product

M_C = 12.011  # g/mol
NORMAL_M3_PER_MOL = 0.0224141  # ideal gas at 0 degC, 1 atm
M_CF4, M_C2F6 = 88.004, 138.01
# IPCC 2006 Guidelines, Vol. 3, ch. 4.4: default C2F6/CF4 mass ratio of point-fed prebake
# aluminium cells, 0.121; the analysers read by volume (mol)
C2F6_PER_CF4 = 0.121 * M_CF4 / M_C2F6  # 0.077 mol/mol


@dataclass(frozen=True, slots=True)
class GasParams:
    """Hood and off-gas [A]."""

    flow_nm3_h_per_ka: float = 50.0  # hood draught: 300 Nm3/h at 6 kA
    air_burn_per_metal_kg: float = 0.05  # of carbon_per_metal_kg, burnt by air to CO2
    c2f6_tau: float = 10.0  # s, the analyser lag after an anode effect


class OffGas:
    """CO, CO2 (vol%), C2F6 (ppm) and the flow (Nm3/h) of one cell's hood."""

    def __init__(self, product: Product, cell: CellParams, flow_factor: float = 1.0) -> None:
        self.params = g = GasParams()
        self._o_per_re = (product.oxide_per_re_kg - 1.0) * 1000.0 / M_O  # mol O per kg RE
        per_charge = cell.eta0  # the carbon figures are per kg of metal at eta0
        self._c_el = (cell.carbon_per_metal_kg - g.air_burn_per_metal_kg) * per_charge
        self._c_el *= 1000.0 / M_C  # mol C per kg of charge's metal
        self._c_air = g.air_burn_per_metal_kg * per_charge * 1000.0 / M_C
        self.flow = g.flow_nm3_h_per_ka * cell.nominal_ka * flow_factor
        self._mol_s = self.flow / 3600.0 / NORMAL_M3_PER_MOL  # hood gas, mol/s
        self.co = self.co2 = self.c2f6 = 0.0
        self.carbon_kg = self.oxygen_kg = 0.0  # booked since start

    def _gas(self, charge_kg: float) -> tuple[float, float, float]:
        """(CO, CO2, O of the oxide) in mol for a charge that would make `charge_kg` of
        rare-earth metal at 100 %."""
        n_o = self._o_per_re * charge_kg
        n_c = self._c_el * charge_kg
        co, co2 = max(2.0 * n_c - n_o, 0.0), max(n_o - n_c, 0.0)  # CO + CO2 = C; CO + 2CO2 = O
        return co, co2 + self._c_air * charge_kg, n_o

    def start(self, charge_kg_s: float) -> None:
        """Show the gas of a cell passing the charge of `charge_kg_s` kg/s of metal before its
        first step (books nothing)."""
        co, co2, _ = self._gas(charge_kg_s)
        self.co, self.co2 = 100.0 * co / self._mol_s, 100.0 * co2 / self._mol_s

    def step(self, dt: float, charge_kg: float, cf4_ppm: float, ae: bool) -> None:
        """Book the gas of this dt-second step's charge (`charge_kg` of metal at 100 %)."""
        co, co2, n_o = self._gas(charge_kg)
        self.carbon_kg += (co + co2) * M_C / 1000.0
        self.oxygen_kg += n_o * M_O / 1000.0
        per_s = self._mol_s * dt
        self.co, self.co2 = 100.0 * co / per_s, 100.0 * co2 / per_s
        if ae:
            self.c2f6 = C2F6_PER_CF4 * cf4_ppm
        elif self.c2f6 > 0.0:  # the analyser clears after the effect
            self.c2f6 *= math.exp(-dt / self.params.c2f6_tau)  # exact for any step

    def values(self) -> dict[str, float]:
        return {
            "c2f6_ppm": self.c2f6,
            "co_pct": self.co,
            "co2_pct": self.co2,
            "offgas_flow": self.flow,
        }
