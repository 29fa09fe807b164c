"""What is done to a cell from outside its own dynamics: tapping, anode changes, raking the
sludge, setting the anode-cathode distance, forcing and killing anode effects, cutting the cell
out of the line; and its counter-voltage and shorting-bar load while it carries no current.

A mixin of `Cell` (kept apart so cell.py holds the physics only). The operators
(`operators.py`), the plant's commands and its faults call these methods.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from simulators.process.params import CellParams

# [A] The counter-voltage a cell shows without current: the oxide's decomposition voltage
# (E_rev, 1.8 V) right after the current stops, fading as the anode gas and the dissolved
# metal that hold it up disperse.
EMF_TAU_S = 1200.0
# [A] A cut-out cell is bridged by shorting bars: it reads their drop, 0.05 V at the nominal
# current, and loads the rectifier with their resistance only.
SHORT_V_NOMINAL = 0.05
ACD_MIN, ACD_MAX = 7.0, 12.0  # cm, the travel of the anode positioner [A]
# [A] alarm limits: the receiver nearly full (the next ~hour overflows it), and sludge above
# 3 % of the bath (16 kg at 6 kA), which a crew rakes out long before
RECEIVER_FULL, SLUDGE_HIGH = 0.9, 0.03


class CellCommands:
    """Commands on a cell (mixed into `Cell`, whose attributes are declared here)."""

    p: CellParams
    _rng: random.Random
    _inom: float
    _i_min: float
    _c_crit_nom: float
    _anode0: float
    _r_melt_ref: float
    _tap_left: float
    _tap_taken: float
    _since_change: float
    m_anode: float
    m_ox: float
    m_undiss: float
    m_sludge: float
    m_bath: float
    c_start: float
    acd: float
    current: float
    current_meas: float
    ae: bool
    e_back: float
    r_ohm: float
    u_true: float
    voltage: float

    def _init_commands(self) -> None:
        self.tapped_total = 0.0  # kg taken by every tap so far
        self.since_tap = 0.0  # s since the last tap ended (or the start)
        self.anode_changes = 0
        self.rake_count, self.raked_kg = 0, 0.0
        self.acd_setpoint: float | None = None  # None: the gap follows the anode's wear
        self.acd_shift = 0.0  # cm the positioner has moved the anode in total
        self.anode_set_acd = self.p.acd_new  # cm, the gap the present anode was set at
        self.cut_out = False
        self.emf = self.p.e_rev  # V, the counter-voltage while the current is off

    # ---------------------------------------------------------------- metal, anode, sludge
    def tap(self) -> None:
        """Start a tap (ignored while one is running)."""
        if self._tap_left <= 0.0:
            self._tap_left, self._tap_taken = self.p.tap_s, 0.0

    @property
    def tapping(self) -> bool:
        return self._tap_left > 0.0

    @property
    def anode_left(self) -> float:
        """Fraction of a new anode's graphite left."""
        return self.m_anode / self._anode0

    @property
    def powered(self) -> bool:
        """Carrying current (above 5 % of the nominal)."""
        return self.current > self._i_min

    def _acd(self) -> float:
        if self.acd_setpoint is not None:  # the positioner holds the gap against the wear
            return self.acd_setpoint
        worn = 1.0 - self.m_anode / self._anode0
        return self.p.acd_new + (self.p.acd_worn - self.p.acd_new) * worn

    def change_anode(self) -> None:
        self.m_anode = self._anode0
        self.acd = self.anode_set_acd = self._acd()
        self._since_change = 0.0
        self.anode_changes += 1

    def rake(self) -> None:
        """Rake the sludge (undissolved oxide) off the crucible bottom."""
        self.raked_kg += self.m_sludge
        self.m_sludge = 0.0
        self.rake_count += 1

    def set_acd(self, cm: float) -> None:
        """Move the anode to this anode-cathode distance and hold it there against the wear."""
        if not math.isfinite(cm) or not ACD_MIN <= cm <= ACD_MAX:
            raise ValueError(f"anode-cathode distance {cm!r} cm is outside {ACD_MIN}..{ACD_MAX}")
        self.acd_shift += cm - self.acd
        self.acd_setpoint = self.acd = cm

    @property
    def tracking_resistance(self) -> float:
        """Pseudo-resistance with the positioner's moves taken out (mOhm): the feed control
        knows where it put the anode and must not read a move as an oxide change."""
        return self.pseudo_resistance - self._r_melt_ref * self.acd_shift / self.p.acd_ref

    @property
    def pseudo_resistance(self) -> float:
        """(U - E_rev) / I in mOhm, from the measured values."""
        on = self.current_meas > self._i_min
        return (self.voltage - self.p.e_rev) / self.current_meas if on else 0.0

    if TYPE_CHECKING:  # defined by Cell

        def start_anode_effect(self) -> None: ...
        def _end_anode_effect(self) -> None: ...

    # ---------------------------------------------------------------- anode effect
    def force_anode_effect(self) -> None:
        """Drop the dissolved oxide below the critical level and start an anode effect now."""
        c_crit = self._c_crit_nom * max(self.current, self._i_min) / self._inom
        self.m_ox = max(c_crit - 0.05, 0.0) * self.m_bath / 100.0
        self.m_undiss = 0.0
        if not self.ae and self.current > self._i_min:
            self.start_anode_effect()

    def kill_anode_effect(self) -> None:
        """Operator kill: oxide back to the cell's own start level and the effect ends."""
        self.m_ox = max(self.m_ox, self.c_start * self.m_bath / 100.0)
        if self.ae:
            self._end_anode_effect()

    # ---------------------------------------------------------------- no current
    def _counter_voltage(self, dt: float, on: bool) -> None:
        self.emf = self.p.e_rev if on else self.emf * math.exp(-dt / EMF_TAU_S)

    def set_cut_out(self, out: bool) -> None:
        """Bridge the cell with shorting bars (True) or put it back in the line (False)."""
        self.cut_out = out

    def load(self) -> tuple[float, float]:
        """The cell as the rectifier sees it: back-EMF (V) and resistance (mOhm)."""
        if self.cut_out:
            return 0.0, SHORT_V_NOMINAL / self._inom
        return self.e_back, self.r_ohm

    def bridged(self, line_current: float) -> None:
        """After a step without current: the cell reads the shorting bars' drop."""
        self.u_true = SHORT_V_NOMINAL * line_current / self._inom
        self.voltage = self.u_true + self.p.noise_white * self._rng.gauss(0, 1)
