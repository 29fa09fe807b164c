"""The oxide feeder of one cell: a hopper on load cells, a dosing screw that delivers shots,
and the feed controller (timer, resistance tracking, manual, off).

Resistance tracking (after the aluminium point-feeder practice): underfeed at 70 % of the
nominal rate until the least-squares slope of the cell's pseudo-resistance over the last
30 min says the oxide is running low, then overfeed at 140 % for an hour, and again. While
the window is invalid (anode effect, anode change, a line-current change) it feeds the
nominal rate. An anode effect forces a kill shot in every mode but OFF.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Protocol

from simulators.catalog import FeederAlarm, FeedMode, FeedRegime
from simulators.process.params import FeederParams, Product


class CellView(Protocol):
    """What the feeder reads of its cell (the previous step's values)."""

    current: float  # kA
    ae: bool
    ae_count: int

    @property
    def tracking_resistance(self) -> float: ...
    @property
    def control_disturbed(self) -> bool: ...


class Feeder:
    """Hopper, screw and controller. `step()` returns the oxide delivered (kg)."""

    def __init__(self, name: str, product: Product, params: FeederParams, rng: random.Random):
        p = params
        self.name, self.p, self._rng = name, p, rng
        self.capacity = p.hopper_kg_per_ka * p.nominal_ka
        self._refill_rate = p.refill_kg_h_per_ka * p.nominal_ka / 3600.0
        self._screw_rate = p.screw_kg_h / 3600.0
        # kg/s of oxide per kA at the set current efficiency
        self._kg_s_per_ka = product.oxide_per_re_kg * product.re_kg_per_kah * p.eta_set / 3600.0
        self.m_hopper = self.weight = p.start_level * self.capacity
        self.mode, self.regime, self._regime_left = FeedMode.AUTO_RESISTANCE, FeedRegime.UNDER, 0.0
        self.setpoint = self.rate_avg = self._kg_s_per_ka * p.nominal_ka * p.under * 3600.0
        self.credit = self._shot_left = 0.0
        self.delivering, self.motor_current = False, 0.0
        self.shot_count, self.totalizer = 0, 0.0
        self.refill = self.jammed = self.refill_blocked = False
        self.loadcell_failed = False  # a broken load-cell signal (the loadcell_fault fault)
        self._killed_for = 0  # the anode effect (by number) the last kill shot was for
        n = p.window
        centre = (n - 1) / 2.0
        sxx = sum((k - centre) ** 2 for k in range(n))
        per_hour = 3600.0 / p.block_s
        self._weights = [(k - centre) / sxx * per_hour for k in range(n)]
        self._trigger = p.slope_trigger_v_h / p.nominal_ka  # mOhm/h
        self._multiplier = {
            FeedRegime.NOMINAL: 1.0,
            FeedRegime.UNDER: p.under,
            FeedRegime.OVER: p.over,
            FeedRegime.TRACK: 0.0,
        }
        self._blocks: deque[float] = deque(maxlen=n)
        self._block_sum = self._block_t = self._i_ref = 0.0

    # ---------------------------------------------------------------- control
    def set_mode(self, mode: FeedMode) -> None:
        if mode == self.mode:
            return
        self.mode = mode
        self.regime = FeedRegime.UNDER if mode == FeedMode.AUTO_RESISTANCE else FeedRegime.NOMINAL
        self._regime_left = 0.0
        self._restart_window(0.0)
        if mode == FeedMode.OFF:
            self.credit = self._shot_left = 0.0

    def _restart_window(self, current: float) -> None:
        self._blocks.clear()
        self._block_sum = self._block_t = 0.0
        self._i_ref = current

    def slope(self) -> float | None:
        """Pseudo-resistance slope over the window, mOhm/h (None until the window is full)."""
        if len(self._blocks) < self.p.window:
            return None
        return sum(w * y for w, y in zip(self._weights, self._blocks, strict=True))

    def _track(self, dt: float, cell: CellView) -> None:
        p = self.p
        if self.regime == FeedRegime.OVER:
            self._regime_left -= dt
            if self._regime_left <= 0.0:
                self.regime = FeedRegime.UNDER
                self._restart_window(cell.current)
            return
        off_current = abs(cell.current - self._i_ref) > p.current_tolerance * max(self._i_ref, 0.1)
        if cell.control_disturbed or off_current:  # no valid estimate: feed what the cell uses
            self._restart_window(cell.current)
            self.regime = FeedRegime.NOMINAL
            return
        self._block_sum += cell.tracking_resistance * dt
        self._block_t += dt
        if self._block_t < p.block_s - 1e-9:
            return
        self._blocks.append(self._block_sum / self._block_t)
        self._block_sum = self._block_t = 0.0
        slope = self.slope()
        if slope is not None and slope > self._trigger:
            self._overfeed(p.over_s, cell.current)
        elif slope is not None and self.regime == FeedRegime.NOMINAL:
            self.regime = FeedRegime.UNDER  # the window is full again: back to tracking

    def _overfeed(self, seconds: float, current: float) -> None:
        self.regime, self._regime_left = FeedRegime.OVER, seconds
        self._restart_window(current)

    def _rate(self, dt: float, cell: CellView) -> float:
        """Feed-rate setpoint in kg/s."""
        p, mode = self.p, self.mode
        if mode == FeedMode.OFF:
            return 0.0
        if mode == FeedMode.MANUAL:
            return self._kg_s_per_ka * p.nominal_ka
        nominal = self._kg_s_per_ka * cell.current
        if mode == FeedMode.AUTO_RESISTANCE:
            self._track(dt, cell)
            return nominal * self._multiplier[self.regime]
        if self.regime == FeedRegime.OVER:
            self._regime_left -= dt
            if self._regime_left <= 0.0:
                self.regime = FeedRegime.NOMINAL
            return nominal * p.over
        return nominal

    def _kill_shot(self, cell: CellView) -> None:
        p = self.p
        if not cell.ae or self._killed_for == cell.ae_count or self.mode == FeedMode.OFF:
            return
        if self.jammed or self.m_hopper <= 0.0:
            return  # tried again every step until the feeder can deliver
        self._killed_for = cell.ae_count
        self._shot_left += p.kill_kg
        self.shot_count += 1
        if self.mode == FeedMode.AUTO_RESISTANCE:
            self._overfeed(p.over_s, cell.current)
        elif self.mode == FeedMode.AUTO_TIMER:
            self._overfeed(p.timer_over_after_ae_s, cell.current)

    # ---------------------------------------------------------------- stepping
    def step(self, dt: float, cell: CellView) -> float:
        """Advance by dt seconds; returns the oxide delivered into the cell (kg)."""
        p = self.p
        self._kill_shot(cell)
        rate = self._rate(dt, cell)
        self.setpoint = rate * 3600.0
        if self.mode != FeedMode.OFF:
            self.credit = min(self.credit + rate * dt, 2.0 * p.shot_kg)
            ready = not self.jammed and self.m_hopper > 0.0
            if self._shot_left <= 0.0 and self.credit >= p.shot_kg and ready:
                self._shot_left = p.shot_kg
                self.credit -= p.shot_kg
                self.shot_count += 1
        delivered = 0.0
        self.delivering = self._shot_left > 0.0 and not self.jammed and self.m_hopper > 0.0
        if self.delivering:
            delivered = min(self._shot_left, self._screw_rate * dt, self.m_hopper)
            self._shot_left -= delivered
            if self._shot_left < 1e-9:  # no float crumbs left over from a shot
                self._shot_left = 0.0
            self.m_hopper -= delivered
            self.totalizer += delivered
        self._refill(dt)
        self.rate_avg += (delivered / dt * 3600.0 - self.rate_avg) * min(dt / p.rate_tau, 1.0)
        self._measure()
        return delivered

    def _refill(self, dt: float) -> None:
        p = self.p
        if self.refill_blocked:
            self.refill = False
            return
        if not self.refill and self.m_hopper < p.refill_low * self.capacity:
            self.refill = True
        if self.refill:
            self.m_hopper += self._refill_rate * dt
            if self.m_hopper >= p.refill_high * self.capacity:
                self.m_hopper = p.refill_high * self.capacity
                self.refill = False

    def _measure(self) -> None:
        p, rng = self.p, self._rng
        weight = self.m_hopper + p.loadcell_noise * self.capacity * rng.gauss(0, 1)
        if self.delivering:
            weight += p.vibration * self.capacity * rng.uniform(-1.0, 1.0)
        # a broken signal reads under range (the 4-20 mA loop below 4 mA): -2 % of full scale
        self.weight = -0.02 * self.capacity if self.loadcell_failed else weight
        if self.jammed and self.mode != FeedMode.OFF:  # stalled screw, the controller retries
            self.motor_current = p.motor_jam_a + p.motor_noise_a * rng.gauss(0, 1)
        elif self.delivering:
            self.motor_current = p.motor_run_a + p.motor_noise_a * rng.gauss(0, 1)
        else:
            self.motor_current = 0.0

    # ---------------------------------------------------------------- faults
    def empty(self) -> None:
        """Hopper runs empty and cannot be refilled until cleared."""
        self.m_hopper, self.refill, self.refill_blocked = 0.0, False, True

    # ---------------------------------------------------------------- published values
    def alarms(self) -> FeederAlarm:
        p, bits = self.p, FeederAlarm(0)
        if self.m_hopper < p.refill_low * self.capacity:
            bits |= FeederAlarm.HOPPER_LOW
        empty = self.m_hopper < p.empty_kg
        if empty:
            bits |= FeederAlarm.HOPPER_EMPTY
        if self.jammed:
            bits |= FeederAlarm.JAM
        if self.loadcell_failed:
            bits |= FeederAlarm.LOADCELL_FAULT
        if self.mode != FeedMode.OFF and self.setpoint > 0.0 and (self.jammed or empty):
            bits |= FeederAlarm.NO_FLOW
        return bits

    def bad(self) -> dict[str, str]:
        return {"hopper_weight": "BadSensorFailure"} if self.loadcell_failed else {}

    def values(self) -> dict[str, int | float | bool | str]:
        return {
            "hopper_weight": self.weight,
            "hopper_level": min(max(100.0 * self.weight / self.capacity, 0.0), 100.0),
            "feed_rate_setpoint": self.setpoint,
            "feed_rate_actual": self.rate_avg,
            "screw_motor_current": self.motor_current,
            "shot_count": self.shot_count,
            "feed_totalizer": self.totalizer,
            "regime": int(self.regime),
            "mode": int(self.mode),
            "refill_valve": self.refill,
            "alarms": int(self.alarms()),
        }
