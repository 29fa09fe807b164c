"""Constants of the process model: products, cell, feeder and rectifier parameters.

Units follow the plant: current in kA, voltage in V, resistance in mOhm (V/kA), mass in kg,
time in s, temperature in degC, power in kW. Each constant is marked [V] verified against
published figures, [C] calculated from them, or [A] assumed; README.md lists the publications
("Sources") and compares the steady state with them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

FARADAY_AH_PER_MOL = 96485.33212 / 3600.0  # 26.80 A*h per mol of electrons

# molar masses, g/mol
M_ND, M_PR, M_GD, M_O = 144.242, 140.908, 157.25, 15.999


@dataclass(frozen=True, slots=True)
class Product:
    """What a cell makes. `re_kg_per_kah` is Faraday's yield of the rare-earth metal(s) at
    100 % current efficiency; `re_fraction` is the rare-earth mass fraction of the tapped
    product (1.0 for a pure metal, 0.75 for Gd-Fe on a consumable iron cathode)."""

    name: str
    re_kg_per_kah: float
    oxide_per_re_kg: float  # kg of oxide feed consumed per kg of rare-earth metal
    re_fraction: float = 1.0

    @property
    def product_kg_per_kah(self) -> float:
        """Tapped product (metal or alloy) per kA*h at 100 % current efficiency."""
        return self.re_kg_per_kah / self.re_fraction


def _kah(molar_mass: float) -> float:
    """kg of a trivalent metal per kA*h (= g per A*h)."""
    return molar_mass / (3.0 * FARADAY_AH_PER_MOL)


def _pure(name: str, molar: float, oxide_molar: float, metal_atoms: int) -> Product:
    return Product(name, _kah(molar), oxide_molar / (metal_atoms * molar))


_ND = _pure("Nd", M_ND, 2 * M_ND + 3 * M_O, 2)  # Nd2O3: 1.794 kg/kA*h, 1.166 kg oxide/kg
_PR = _pure("Pr", M_PR, 6 * M_PR + 11 * M_O, 6)  # Pr6O11: 1.753 kg/kA*h, 1.208
_GD = _pure("Gd", M_GD, 2 * M_GD + 3 * M_O, 2)  # Gd2O3: 1.956 kg/kA*h, 1.153
W_PR_IN_PRND = 0.25  # didymium metal: 25 wt% Pr, 75 wt% Nd
W_GD_IN_GDFE = 0.75


def _prnd() -> Product:
    w_pr, w_nd = W_PR_IN_PRND, 1.0 - W_PR_IN_PRND
    kah = 1.0 / (w_pr / _PR.re_kg_per_kah + w_nd / _ND.re_kg_per_kah)
    oxide = w_pr * _PR.oxide_per_re_kg + w_nd * _ND.oxide_per_re_kg
    return Product("PrNd", kah, oxide)


PRODUCTS: dict[str, Product] = {
    "Nd": _ND,
    "PrNd": _prnd(),
    "GdFe": Product("GdFe", _GD.re_kg_per_kah, _GD.oxide_per_re_kg, W_GD_IN_GDFE),
}


@dataclass(frozen=True, slots=True)
class CellParams:
    """One electrolysis cell. Sizes scale with the nominal line current `nominal_ka`."""

    nominal_ka: float = 6.0
    t_nominal: float = 1050.0  # degC, operating point [V]
    t_amb: float = 25.0
    e_rev: float = 1.8  # V, reversible cell voltage [C]
    u_thermoneutral: float = 2.3  # V, only the voltage above this heats the bath [A]
    # current efficiency [A]
    eta_t_coeff: float = 0.002  # per K above 1050 degC
    eta_lean_penalty: float = 0.06  # lost when oxide is down at the critical level
    c_lean: float = 1.8  # wt%, below this the lean penalty starts
    eta_ae: float = 0.2  # during an anode effect
    eta_receiver_full: float = 0.05  # receiver overflowing: the metal re-oxidises
    # oxide [A, solubility 2-4 wt% V]
    c_start: float = 2.5  # wt%
    bath_kg_per_ka: float = 90.0
    tau_dissolve: float = 120.0  # s
    c_sat: float = 3.0  # wt% at 1050 degC
    c_sat_per_k: float = 0.01
    tau_sludge: float = 7200.0  # s, redissolution below saturation
    # anode overvoltage and anode effect [A, shape after Al models]
    j_nominal: float = 0.9  # A/cm2 anode current density at the nominal current
    k_crit: float = 0.8  # A/cm2 per wt% of oxide: critical current density
    eta_a0: float = 0.25  # V
    eta_a_slope: float = 0.12  # V
    x_max: float = 0.98
    ae_hysteresis: float = 0.2  # wt% above the critical oxide to end an anode effect
    ae_v_mean: float = 30.0  # V at the nominal current
    ae_v_sd: float = 5.0
    ae_v_min: float = 15.0
    ae_v_max: float = 45.0
    ae_v_noise: float = 2.0  # V, white
    ae_cf4_min: float = 2000.0  # ppm, peak at onset (log-uniform)
    ae_cf4_max: float = 10000.0
    cf4_lean_ppm: float = 20.0  # low-voltage PFC at the critical oxide level
    cf4_lean_scale: float = 0.3  # wt%
    cf4_tau: float = 10.0  # s, off-gas analyser lag
    operator_kill_s: float = 600.0  # an unfed anode effect is killed by hand after this
    operator_kill_kg: float = 3.0  # oxide shovelled in by the operator
    # ohmic terms, calibrated on 6.28 V at 4.01 kA of a 6 kA cell [V, README source 3]; a cell
    # built for another current has R ~ (6 kA / I_nom)^1.15, so bigger cells run at a slightly
    # lower voltage (about 9.5 V at 3 kA, 8.8 V at 6 kA, 7.5 V at 25 kA) [A]
    r_melt_6ka: float = 1.105  # mOhm at acd_ref and 1050 degC
    r_ext_6ka: float = 0.062  # mOhm, conductors
    size_exponent: float = 1.15
    acd_ref: float = 10.0  # cm
    activation_j_mol: float = 15000.0  # bath resistivity ~ exp(Ea/R (1/T - 1/Tref))
    bubble_v: float = 0.15  # V at the nominal current
    i_polarise: float = 0.05  # kA, back-EMF builds up over the first tens of amperes
    noise_ar_sigma: float = 0.03  # V, stationary AR(1)
    noise_ar_phi: float = 0.9  # per second
    noise_white: float = 0.01  # V, measurement
    # heat [A]
    lining_kg_per_ka: float = 500.0  # crucible, lining and electrodes that follow the bath
    cp_bath: float = 1.2  # kJ/kg/K
    cp_lining: float = 0.9  # kJ/kg/K
    heat_oxide_j_kg: float = 1.1e6  # to heat and dissolve cold oxide
    tc_noise: float = 0.2  # K
    tc_open_value: float = 1372.0  # type K full scale
    wall_fraction: float = 0.42  # wall rise is this fraction of the bath rise
    wall_tau: float = 1800.0
    # anode [C+A]
    anode_kg_per_ka: float = 50.0
    carbon_per_metal_kg: float = 0.14  # electrochemical 0.09 + air burn 0.05, at eta0
    acd_new: float = 9.0  # cm
    acd_worn: float = 10.0  # cm, the anode's inner face has receded this far
    anode_change_s: float = 300.0
    anode_change_dip_k: float = 5.0  # the cold anode takes this much out of the bath ...
    anode_change_heat_s: float = 1200.0  # ... over this time
    anode_change_v_sd: float = 0.3  # V, disturbance ...
    anode_change_v_s: float = 60.0  # ... during the first minute
    # metal [A]
    tap_s: float = 600.0
    heel_kg: float = 2.0
    receiver_kg_per_ka: float = 13.0  # ~80 kg at 6 kA, ~9.5 h of production
    # alarm limits [A]
    temp_high: float = 1080.0
    temp_low: float = 1020.0
    voltage_high: float = 12.0
    oxide_low_margin: float = 0.15  # wt% above the critical level (the controller stays above)
    i_min_fraction: float = 0.05  # below this fraction of nominal the cell is shut down

    @property
    def size_factor(self) -> float:
        return float((6.0 / self.nominal_ka) ** self.size_exponent)

    @property
    def carbon_per_charge_kg(self) -> float:
        """kg of anode carbon per kg of metal the charge would make at 100 % (Faraday): the
        anode reacts with all the charge, so `carbon_per_metal_kg` holds at `eta0`."""
        return self.carbon_per_metal_kg * self.eta0

    @property
    def eta0(self) -> float:
        """Base current efficiency: 0.75 for 3-6 kA cells, 0.78 at 10 kA and above [A]."""
        return 0.75 + 0.03 * min(max((self.nominal_ka - 6.0) / 4.0, 0.0), 1.0)


@dataclass(frozen=True, slots=True)
class FeederParams:
    """The oxide feeder: a hopper on load cells and a screw that doses shots [A]."""

    nominal_ka: float = 6.0
    hopper_kg_per_ka: float = 35.0  # 210 kg at 6 kA, ~20 h of feed
    start_level: float = 0.6
    refill_low: float = 0.2
    refill_high: float = 0.9
    refill_kg_h_per_ka: float = 50.0  # 300 kg/h at 6 kA
    shot_kg: float = 0.5
    screw_kg_h: float = 180.0
    kill_kg: float = 3.0  # forced shot on an anode effect
    eta_set: float = 0.75  # the efficiency the nominal rate is computed with
    under: float = 0.7  # aluminium point-feeder practice [V, README source 12]
    over: float = 1.4
    over_s: float = 3600.0
    timer_over_after_ae_s: float = 1800.0
    motor_run_a: float = 4.0
    motor_jam_a: float = 12.5
    motor_noise_a: float = 0.15
    loadcell_noise: float = 0.001  # of full scale
    vibration: float = 0.005  # of full scale, while the screw runs
    rate_tau: float = 600.0  # s, averaging of the delivered rate
    empty_kg: float = 0.5
    # resistance tracking: least-squares slope of pseudo-resistance block averages
    block_s: float = 30.0
    window: int = 60  # blocks: a 30 min window
    slope_trigger_v_h: float = 0.09  # cell voltage rising this fast: oxide is running low
    current_tolerance: float = 0.03  # relative: a line-current change restarts the window


@dataclass(frozen=True, slots=True)
class RectifierParams:
    """The rectifier feeding the potline [A]."""

    nominal_ka: float = 6.0
    rated_fraction: float = 1.25  # highest allowed setpoint, of nominal
    ramp_ka_s: float = 0.05  # 50 A/s
    tau_reg: float = 3.0  # s
    tau_trip: float = 0.2  # s
    v_headroom: float = 1.25  # V_max = 1.25 * N * nominal cell voltage
    r_bus_per_cell: float = 0.010  # mOhm
    i_noise: float = 0.001  # relative ripple after filtering
    v_noise: float = 0.0005
    oil_base: float = 45.0  # degC
    oil_rise: float = 30.0  # at the nominal current, ~ I^2
    oil_tau: float = 1800.0
    oil_high: float = 85.0
    cw_flow: float = 12.0  # m3/h
    cw_noise: float = 0.005
    cw_low: float = 8.0
    overcurrent: float = 1.1  # of the rated current


def derive_seed(seed: int, name: str) -> int:
    """A stable 64-bit seed for one component (not Python's salted hash())."""
    digest = hashlib.blake2b(f"{seed}/{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
