"""The rectifier feeding the potline: constant-current control with a voltage limit, trips,
energy totaliser, transformer oil temperature and cooling water."""

from __future__ import annotations

import math
import random

from simulators.catalog import RectifierAlarm, RectifierState
from simulators.process.params import RectifierParams


class Rectifier:
    """Driven by the plant in two halves per step: `regulate()` decides the line current from
    the cells' linearised load U = E + R*I, `finish()` books the resulting line voltage."""

    def __init__(
        self, params: RectifierParams, cells: int, u_cell_nominal: float, rng: random.Random
    ) -> None:
        p = params
        self.p, self._rng = p, rng
        self.nominal = p.nominal_ka
        self.rated = p.rated_fraction * p.nominal_ka
        self.v_max = p.v_headroom * cells * u_cell_nominal
        self.r_bus = p.r_bus_per_cell * cells  # mOhm
        self.setpoint = self.current = self.current_meas = self._i_reg = p.nominal_ka
        self.voltage = self.voltage_meas = self.power = 0.0
        self.tripped = self.limited = False
        self.earth_fault = False  # an insulation fault to earth: alarmed, the line runs on
        self.energy_kwh = 0.0
        self.oil_temp = p.oil_base + p.oil_rise
        self.cw_flow = p.cw_flow
        self._dt, self._approach = 1.0, 1.0 - math.exp(-1.0 / p.tau_reg)

    # ---------------------------------------------------------------- commands
    def set_setpoint(self, ka: float) -> None:
        if not math.isfinite(ka) or not 0.0 <= ka <= self.rated:
            raise ValueError(f"line current setpoint {ka!r} kA is outside 0..{self.rated:g} kA")
        self.setpoint = float(ka)

    def trip(self) -> None:
        self.tripped = True

    def reset(self) -> None:
        """Reset a trip: the current ramps back to the setpoint (no effect when not tripped)."""
        if self.tripped:
            self.tripped = False
            self._i_reg = self.current

    # ---------------------------------------------------------------- stepping
    def regulate(self, dt: float, e_sum: float, r_sum: float) -> float:
        """Line current (kA) for this step, given the cells' summed back-EMF and resistance."""
        p = self.p
        if self.tripped:
            self.current *= math.exp(-dt / p.tau_trip)
            if self.current < 1e-4:
                self.current = 0.0
            self._i_reg, self.limited = self.current, False
        else:
            if dt != self._dt:
                self._dt, self._approach = dt, 1.0 - math.exp(-dt / p.tau_reg)
            ramp = p.ramp_ka_s * dt
            change = (self.setpoint - self._i_reg) * self._approach
            self._i_reg += min(max(change, -ramp), ramp)
            current = self._i_reg
            r_total = r_sum + self.r_bus
            self.limited = e_sum + r_total * current > self.v_max
            if self.limited:  # the voltage limit holds the current down (no integrator windup)
                current = self._i_reg = max((self.v_max - e_sum) / r_total, 0.0)
            self.current = current
        self.current_meas = self.current * (1.0 + p.i_noise * self._rng.gauss(0, 1))
        return self.current

    def finish(self, dt: float, cell_voltage_sum: float) -> None:
        p, rng = self.p, self._rng
        self.voltage = cell_voltage_sum + self.r_bus * self.current
        self.voltage_meas = self.voltage * (1.0 + p.v_noise * rng.gauss(0, 1))
        self.power = self.voltage * self.current  # kW
        self.energy_kwh += self.power * dt / 3600.0
        oil_target = p.oil_base + p.oil_rise * (self.current / self.nominal) ** 2
        self.oil_temp += (oil_target - self.oil_temp) * dt / p.oil_tau
        self.cw_flow = p.cw_flow * (1.0 + p.cw_noise * rng.gauss(0, 1))

    # ---------------------------------------------------------------- published values
    def state(self) -> RectifierState:
        if self.tripped:
            return RectifierState.TRIPPED
        if self.limited:
            return RectifierState.LIMIT
        if self.setpoint <= 0.0 and self.current < 0.01:
            return RectifierState.OFF
        if abs(self.current - self.setpoint) > 0.01 * self.nominal:
            return RectifierState.RAMP
        return RectifierState.REGULATING

    def alarms(self) -> RectifierAlarm:
        p, bits = self.p, RectifierAlarm(0)
        if self.tripped:
            bits |= RectifierAlarm.TRIP
        if self.limited:
            bits |= RectifierAlarm.V_LIMIT
        if self.current > p.overcurrent * self.rated:
            bits |= RectifierAlarm.OVERCURRENT
        if self.earth_fault:
            bits |= RectifierAlarm.EARTH_FAULT
        if self.cw_flow < p.cw_low:
            bits |= RectifierAlarm.CW_LOW
        if self.oil_temp > p.oil_high:
            bits |= RectifierAlarm.OIL_HIGH
        return bits

    def values(self) -> dict[str, int | float | bool | str]:
        return {
            "line_current": self.current_meas,
            "line_current_sp": self.setpoint,
            "line_voltage": self.voltage_meas,
            "dc_power": self.voltage_meas * self.current_meas,
            "energy_total": int(self.energy_kwh),
            "oil_temp": self.oil_temp,
            "cw_flow": self.cw_flow,
            "state": int(self.state()),
            "alarms": int(self.alarms()),
            "reset_request": False,
        }
