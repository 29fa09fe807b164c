"""The potline crew and the cells' temperature loop: what keeps a real line in its window for
weeks, where the open-loop model drifts out of it within hours.

Every step, for each cell, in this order:

- the anode-effect kill: an effect that the feeder's kill shot has not ended after 5 min is
  killed by hand;
- the cut-out: a cell whose bath stays above 1100 degC for 10 min is bridged out of the line
  and put back when it has cooled to 1050 degC;
- tapping: when the receiver holds 45 % of its capacity (~35 kg at 6 kA, every ~4 h);
- the anode change, when 15 % of the anode is left;
- raking, when the sludge exceeds 1.5 kg/kA (9 kg at 6 kA);
- the temperature loop, once a minute: a PI controller on the measured bath temperature moves
  the anode-cathode distance (0.66 V/cm at 6 kA), and the anode positioner holds it there
  against the wear.

A crew does one job at a time on a cell: nothing starts while the cell is in anode effect,
tapping or having its anode changed. What they do is kept as `Action`s for the runner's log.
The crew draws no random numbers, so it does not change the cells' noise.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from simulators.process.cell import Cell
from simulators.process.cellops import ACD_MAX, ACD_MIN


@dataclass(frozen=True, slots=True)
class OperatorParams:
    """How the crew and the control system work [A, within the ranges of README.md]."""

    ae_kill_s: float = 300.0  # hand kill of an anode effect the feeder has not ended
    tap_level: float = 0.45  # of the receiver capacity
    anode_limit: float = 15.0  # % of the anode left
    rake_kg_per_ka: float = 1.5
    cut_out_temp: float = 1100.0  # degC, held for cut_out_s
    cut_out_s: float = 600.0
    cut_in_temp: float = 1050.0
    control_s: float = 60.0  # period of the temperature loop
    t_set: float = 1050.0  # degC
    kp: float = 0.05  # cm per K: 10 K too hot lowers the anode by 0.5 cm (0.33 V at 6 kA)
    ti_s: float = 4 * 3600.0  # integral time


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the crew did: simulated time (s), device, what, and a detail; `fields` are
    the detail's numbers by name (the record's `operator_event` fields)."""

    t: float
    device: str
    action: str
    detail: str = ""
    fields: tuple[tuple[str, float], ...] = ()


class _CellCrew:
    """The crew's and the loop's memory for one cell."""

    def __init__(self, cell: Cell) -> None:
        self.acd_base = cell.acd  # the loop starts from the gap the cell has
        self.integral = 0.0  # K*s
        self.clock = 0.0  # s since the loop last acted
        self.hot = 0.0  # s the bath has been above the cut-out limit
        self.cut_by_crew = False
        self.taps = cell.tap_count


class Operators:
    """Acts on the cells after every plant step (`step`); `actions` holds what it did."""

    def __init__(self, cells: list[Cell], params: OperatorParams | None = None) -> None:
        self.p = params or OperatorParams()
        self._crews = [_CellCrew(cell) for cell in cells]
        self.actions: deque[Action] = deque(maxlen=1000)  # a reader drains it

    def take_actions(self) -> list[Action]:
        """What the crew did since the last call, oldest first."""
        done = list(self.actions)
        self.actions.clear()
        return done

    def _do(self, t: float, cell: Cell, action: str, detail: str = "", **fields: float) -> None:
        self.actions.append(Action(t, cell.name, action, detail, tuple(fields.items())))

    def step(self, dt: float, t: float, cells: list[Cell]) -> None:
        for cell, crew in zip(cells, self._crews, strict=True):
            self._tend(dt, t, cell, crew)

    def _tend(self, dt: float, t: float, cell: Cell, crew: _CellCrew) -> None:
        p = self.p
        if cell.tap_count != crew.taps:  # a tap has just ended
            crew.taps = cell.tap_count
            self._do(t, cell, "tapped", f"{cell.last_tap_kg:.1f} kg", metal_kg=cell.last_tap_kg)
        if cell.ae:
            if cell.ae_time >= p.ae_kill_s:
                cell.kill_anode_effect()
                took = cell.ae_time
                self._do(t, cell, "anode effect killed", f"after {took:.0f} s", duration_s=took)
            return
        if self._cut_out(dt, t, cell, crew):
            return
        if not cell.control_disturbed and not cell.tapping:
            self._jobs(t, cell)
        self._control(dt, cell, crew)

    def _cut_out(self, dt: float, t: float, cell: Cell, crew: _CellCrew) -> bool:
        """Bridge out a cell that overheats, put it back once cooled; True while it is out."""
        p = self.p
        if cell.cut_out:
            if crew.cut_by_crew and not cell.tc_open and cell.temp_meas <= p.cut_in_temp:
                cell.set_cut_out(False)
                crew.cut_by_crew, crew.hot = False, 0.0
                bath = cell.temp_meas
                self._do(t, cell, "cut in", f"bath {bath:.0f} degC", bath_temp=bath)
            return cell.cut_out
        hot = not cell.tc_open and cell.temp_meas > p.cut_out_temp
        crew.hot = crew.hot + dt if hot else 0.0
        if crew.hot >= p.cut_out_s:
            cell.set_cut_out(True)
            crew.cut_by_crew = True
            bath = cell.temp_meas
            self._do(t, cell, "cut out", f"bath {bath:.0f} degC", bath_temp=bath)
            return True
        return False

    def _jobs(self, t: float, cell: Cell) -> None:
        p = self.p
        if cell.m_metal >= p.tap_level * cell.receiver_capacity:
            cell.tap()
        elif 100.0 * cell.anode_left <= p.anode_limit:
            cell.change_anode()
            self._do(t, cell, "anode changed")
        elif cell.m_sludge > p.rake_kg_per_ka * cell.p.nominal_ka:
            kg = cell.m_sludge
            cell.rake()
            self._do(t, cell, "sludge raked", f"{kg:.1f} kg", sludge_kg=kg)

    def _control(self, dt: float, cell: Cell, crew: _CellCrew) -> None:
        """PI on the bath temperature, acting on the anode-cathode distance once a period."""
        p = self.p
        crew.clock += dt
        if crew.clock < p.control_s - 1e-9:
            return
        period, crew.clock = crew.clock, 0.0
        if cell.tc_open or not cell.powered:
            return  # no reading, or no current to control with: hold the anode where it is
        error = cell.temp_meas - p.t_set
        integral = crew.integral + error * period
        acd = crew.acd_base - p.kp * (error + integral / p.ti_s)
        if ACD_MIN <= acd <= ACD_MAX:
            crew.integral = integral  # no wind-up against the positioner's end stops
        cell.set_acd(min(max(acd, ACD_MIN), ACD_MAX))
