"""One rare-earth electrolysis cell: oxide balance, voltage, anode effect, heat, metal.

Lumped and deterministic: every random number comes from the cell's own `random.Random`.
The equations, their parameters and what is simplified are described in README.md.
"""

from __future__ import annotations

import math
import random

from simulators.catalog import CellAlarm, CellState
from simulators.process.cellops import CellCommands
from simulators.process.feeder import Feeder
from simulators.process.lab import Lab
from simulators.process.offgas import OffGas
from simulators.process.params import CellParams, Product
from simulators.process.readouts import cell_alarms, cell_state, cell_values
from simulators.process.variety import CellVariety, vary

R_GAS = 8.314462618  # J/mol/K


class Cell(CellCommands):
    """State and dynamics of one cell. `step()` is driven by the plant with the line current."""

    # set by variety.vary(): this cell's differences from the nominal cell
    variety: CellVariety
    anode_new_kg: float
    r_anode: float  # mOhm, conductors of the anode side
    r_cathode: float  # mOhm, of the cathode side
    c_start: float  # wt% of oxide at start

    def __init__(
        self,
        name: str,
        product: Product,
        params: CellParams,
        rng: random.Random,
        feeder: Feeder,
        variety: CellVariety | None = None,
        lab_rng: random.Random | None = None,
    ) -> None:
        p = params
        self.name, self.product, self.p, self.feeder, self._rng = name, product, p, feeder, rng
        self._inom = p.nominal_ka
        self._i_min = p.i_min_fraction * p.nominal_ka
        self._c_crit_nom = p.j_nominal / p.k_crit  # wt% of oxide at which j = j_crit
        self.m_bath = p.bath_kg_per_ka * p.nominal_ka
        self._anode0 = p.anode_kg_per_ka * p.nominal_ka
        self.receiver_capacity = p.receiver_kg_per_ka * p.nominal_ka
        lining = p.lining_kg_per_ka * p.nominal_ka
        self.heat_capacity = (self.m_bath * p.cp_bath + lining * p.cp_lining) * 1000.0  # J/K
        self._ea_r = p.activation_j_mol / R_GAS
        self._inv_t_ref = 1.0 / (p.t_nominal + 273.15)
        self._r_melt_ref, self._r_ext = p.r_melt_6ka * p.size_factor, p.r_ext_6ka * p.size_factor
        self._ar_phi, self._ar_dt, self._ar = p.noise_ar_phi, 1.0, 0.0
        self._init_commands()
        # state: anodes of different ages, everything else at the nominal operating point
        self.m_anode = self._anode0 * (1.0 - rng.uniform(0.0, 0.5))
        self.acd = self._acd()
        self.temp = self.temp_meas = p.t_nominal
        self.wall = p.t_amb + p.wall_fraction * (p.t_nominal - p.t_amb)
        self.m_ox = p.c_start * self.m_bath / 100.0  # dissolved oxide, kg
        self.m_undiss = self.m_sludge = 0.0
        self.current = self.current_meas = p.nominal_ka
        self.eta, self.dissolved_rate = p.eta0, 0.0  # dissolved_rate: kg/s, a heat sink
        self.m_metal, self.produced, self.fe_consumed_kg = p.heel_kg, 0.0, 0.0
        self.tap_count, self.last_tap_kg, self._tap_left, self._tap_taken = 0, 0.0, 0.0, 0.0
        self._since_change = math.inf  # s since the last anode change
        self.ae, self.ae_count, self.ae_time = False, 0, 0.0
        self._ae_v = self._ae_cf4 = self._next_kill = 0.0
        self.tc_open = False
        u0, self.e_back, self.r_ohm = self._normal_voltage(p.nominal_ka, p.c_start)
        self.u_true = self.voltage = u0
        self.cf4 = p.cf4_lean_ppm * math.exp(-(p.c_start - self._c_crit_nom) / p.cf4_lean_scale)
        self.k_loss = self._calibrate_heat_loss(u0)
        vary(self, variety or CellVariety.nominal())
        self.offgas = OffGas(product, p, self.variety.offgas_factor)
        self.offgas.start(product.re_kg_per_kah * p.nominal_ka / 3600.0)
        self.lab = Lab(lab_rng or random.Random(0), self)

    def _calibrate_heat_loss(self, u0: float) -> float:
        """W/K so that the nominal operating point is a steady state at t_nominal."""
        p = self.p
        feed = self.product.oxide_per_re_kg * self.product.re_kg_per_kah * p.nominal_ka * p.eta0
        heat = p.nominal_ka * (u0 - p.u_thermoneutral) * 1000.0 - feed / 3600.0 * p.heat_oxide_j_kg
        return heat / (p.t_nominal - p.t_amb)

    def _normal_voltage(self, current: float, c: float) -> tuple[float, float, float]:
        """Cell voltage without anode effect or noise, and its linearisation U = E + R*I."""
        p = self.p
        ratio = current / self._inom
        x = self._c_crit_nom * ratio / c if c > 0.0 else p.x_max
        eta_a = p.eta_a0 - p.eta_a_slope * math.log(1.0 - min(x, p.x_max))
        rho = math.exp(self._ea_r * (1.0 / (self.temp + 273.15) - self._inv_t_ref))
        r_ohm = self._r_melt_ref * self.acd / p.acd_ref * rho + self._r_ext
        e_back = p.e_rev + eta_a + p.bubble_v * ratio
        fading = math.exp(-current / p.i_polarise)  # the counter-voltage shows below ~50 A
        u = e_back * (1.0 - fading) + self.emf * fading + r_ohm * current
        return u, e_back, r_ohm

    def _efficiency(self, c: float, c_crit: float, on: bool) -> float:
        p = self.p
        if not on:
            return 0.0
        if self.ae:
            eta = p.eta_ae
        else:
            eta = p.eta0 - p.eta_t_coeff * (self.temp - p.t_nominal)
            if c < p.c_lean:
                depth = (p.c_lean - c) / max(p.c_lean - c_crit, 0.1)
                eta -= p.eta_lean_penalty * min(depth, 1.0)
            eta = min(max(eta, 0.3), 0.95)
        if self.m_metal >= self.receiver_capacity:
            eta = min(eta, p.eta_receiver_full)
        return eta

    def update_anode_effect(self, dt: float) -> None:
        """Onset and end of an anode effect: called before the rectifier decides the current."""
        p, c = self.p, self.oxide_conc
        on = self.current > self._i_min
        c_crit = self._c_crit_nom * self.current / self._inom
        if self.ae:
            self.ae_time += dt
            # the gas film needs the oxide back above the critical level of the nominal current
            if not on or c > max(c_crit, self._c_crit_nom) + p.ae_hysteresis:
                self._end_anode_effect()
            elif self.ae_time >= self._next_kill:  # nobody fed it: the operator kills it by hand
                self.m_undiss += p.operator_kill_kg
                self._next_kill += p.operator_kill_s
        elif on and c <= c_crit:
            self.start_anode_effect()

    def _end_anode_effect(self) -> None:
        self.ae = False
        _, self.e_back, self.r_ohm = self._normal_voltage(self.current, self.oxide_conc)

    def start_anode_effect(self) -> None:
        p, rng = self.p, self._rng
        self.ae, self.ae_time, self._next_kill = True, 0.0, p.operator_kill_s
        self.ae_count += 1
        self._ae_v = min(max(rng.gauss(p.ae_v_mean, p.ae_v_sd), p.ae_v_min), p.ae_v_max)
        self._ae_cf4 = math.exp(rng.uniform(math.log(p.ae_cf4_min), math.log(p.ae_cf4_max)))
        self.e_back, self.r_ohm = p.e_rev, (self._ae_v - p.e_rev) / self._inom

    def _voltage(self, dt: float, u_normal: float, current: float) -> float:
        """True cell voltage with process noise (AR(1), anode change, anode effect)."""
        p, rng = self.p, self._rng
        if dt != self._ar_dt:
            self._ar_dt, self._ar_phi = dt, p.noise_ar_phi**dt
        phi = self._ar_phi
        self._ar = phi * self._ar + p.noise_ar_sigma * math.sqrt(1.0 - phi * phi) * rng.gauss(0, 1)
        ratio = current / self._inom
        if self.ae:
            u_ae = min(max(self._ae_v + p.ae_v_noise * rng.gauss(0, 1), p.ae_v_min), p.ae_v_max)
            return p.e_rev + (u_ae - p.e_rev) * ratio
        u = u_normal + self._ar * ratio
        if self._since_change < p.anode_change_v_s:
            u += p.anode_change_v_sd * rng.gauss(0, 1) * ratio
        return u

    def _oxide(self, dt: float, re_kg: float) -> None:
        p = self.p
        dissolve = self.m_undiss * min(dt / p.tau_dissolve, 1.0)
        self.m_undiss -= dissolve
        self.dissolved_rate = dissolve / dt
        c = 100.0 * self.m_ox / self.m_bath
        if c >= p.c_sat + p.c_sat_per_k * (self.temp - p.t_nominal):
            self.m_sludge += dissolve
        else:
            back = self.m_sludge * dt / p.tau_sludge
            self.m_sludge -= back
            self.m_ox += dissolve + back
        self.m_ox = max(self.m_ox - self.product.oxide_per_re_kg * re_kg, 0.0)

    def _heat(self, dt: float, current: float, u: float) -> None:
        p = self.p
        power = current * (u - p.u_thermoneutral) * 1000.0
        power -= self.dissolved_rate * p.heat_oxide_j_kg
        if self._since_change < p.anode_change_heat_s:
            power -= p.anode_change_dip_k * self.heat_capacity / p.anode_change_heat_s
        power -= self.k_loss * (self.temp - p.t_amb)
        self.temp += power * dt / self.heat_capacity
        wall_target = p.t_amb + p.wall_fraction * (self.temp - p.t_amb)
        self.wall += (wall_target - self.wall) * dt / p.wall_tau

    def _collect(self, dt: float, re_kg: float, charge_kg: float) -> None:
        """Metal (or alloy) into the receiver; anode wear (by the charge); tapping."""
        p = self.p
        product_kg = re_kg / self.product.re_fraction
        self.m_metal += product_kg
        self.produced += product_kg
        self.fe_consumed_kg += product_kg - re_kg
        if self.m_anode > 0.0:
            self.m_anode = max(self.m_anode - p.carbon_per_charge_kg * charge_kg, 0.0)
            self.acd = self._acd()
        if self._tap_left > 0.0:
            take = max(self.m_metal - p.heel_kg, 0.0) * min(dt / self._tap_left, 1.0)
            self.m_metal -= take
            self._tap_taken += take
            self._tap_left -= dt
            if self._tap_left <= 1e-9:
                self._tap_left = 0.0
                self.tap_count += 1
                self.last_tap_kg = self._tap_taken
                self.tapped_total += self._tap_taken
                self.since_tap = 0.0
        overflow = self.m_metal - self.receiver_capacity
        if overflow > 0.0:  # spilt over the crucible rim: lost to the bath, not produced
            self.m_metal -= overflow
            self.produced -= overflow

    def _gas(self, dt: float, c: float, c_crit: float, on: bool) -> None:
        p = self.p
        if self.ae:
            target = self._ae_cf4 * (0.6 + 0.4 * math.exp(-self.ae_time / 180.0))
        elif on:
            target = p.cf4_lean_ppm * math.exp(-(c - c_crit) / p.cf4_lean_scale)
        else:
            target = 0.0
        self.cf4 += (target - self.cf4) * min(dt / p.cf4_tau, 1.0)

    def step(self, dt: float, current: float, current_meas: float, fed_kg: float) -> None:
        """Advance by dt seconds with `current` kA through the cell and `fed_kg` oxide fed."""
        self.current, self.current_meas = current, current_meas
        self.m_undiss += fed_kg
        on = current > self._i_min
        c = self.oxide_conc
        c_crit = self._c_crit_nom * current / self._inom
        u_normal, e_back, r_ohm = self._normal_voltage(current, c)
        if not self.ae:  # the rectifier's view of the cell for the next step
            self.e_back, self.r_ohm = e_back, r_ohm
        u = self._voltage(dt, u_normal, current)
        self.eta = self._efficiency(c, c_crit, on)
        # the anode reacts with all the charge (Faraday on the anode side); the cathode's
        # inefficiency loses metal, which re-oxidises to oxide, not carbon
        charge_kg = self.product.re_kg_per_kah * current * dt / 3600.0  # metal at 100 %
        re_kg = charge_kg * self.eta
        self._collect(dt, re_kg, charge_kg)
        self._oxide(dt, re_kg)
        self._heat(dt, current, u)
        self._gas(dt, c, c_crit, on)
        self._counter_voltage(dt, on)
        self.offgas.step(dt, charge_kg, self.cf4, self.ae)
        self._since_change += dt
        self.since_tap += dt
        self.u_true = u
        rng, p = self._rng, self.p
        self.voltage = u + p.noise_white * rng.gauss(0, 1)
        self.temp_meas = self.temp + p.tc_noise * rng.gauss(0, 1)
        self.lab.step(dt, self)

    @property
    def oxide_conc(self) -> float:
        return 100.0 * self.m_ox / self.m_bath

    @property
    def control_disturbed(self) -> bool:
        """Anode effect or anode change: resistance tracking must not learn from this."""
        return self.ae or self._since_change < self.p.anode_change_s

    def state(self) -> CellState:
        return cell_state(self)

    def alarms(self) -> CellAlarm:
        return cell_alarms(self)

    def values(self) -> dict[str, int | float | bool | str]:
        return cell_values(self)

    def bad(self) -> dict[str, str]:
        return {"bath_temp": "BadSensorFailure"} if self.tc_open else {}
