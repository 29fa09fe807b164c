"""Electrode read-outs of one cell: the voltage drops of the anode side, the bath and the
cathode side, the current of each anode block and the anode position.

Read-outs only (no state, no random numbers), from the cell's measured current and voltage
and its resistances:
- anode_drop = I * R_anode (bus, stubs, rods) and cathode_drop = I * R_cathode (rod,
  collector, its contacts: the cathode condition of the cell's variety);
- bath_drop = I * R_bath (the electrolyte between the electrodes); in an anode effect it is
  what the gas film adds: U - E_rev - anode_drop - cathode_drop;
- the cell voltage is the back EMF (E_rev + overvoltage + bubbles) plus the three drops;
- the anode blocks share the current by their gaps: I_k ~ 1 / (ACD + gap_k);
- the anode position is how far the anode hanger has been lowered since the last anode
  change: as the carbon burns off below, and by the positioner's moves (the temperature loop
  or `set_acd`), which change the anode-cathode distance from the one the wear alone gives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulators.process.variety import ANODES

if TYPE_CHECKING:
    from simulators.process.cell import Cell

ANODE_TRAVEL_MM = 150.0  # [A] hanger travel over an anode's life (new to used up)


_CURRENTS = tuple(f"anode{k + 1}_current" for k in range(ANODES))


def electrode_values(cell: Cell) -> dict[str, float]:
    i = cell.current_meas
    on = i > cell.p.i_min_fraction * cell.p.nominal_ka
    anode, cathode = i * cell.r_anode, i * cell.r_cathode
    if not on:
        bath = 0.0
    elif cell.ae:
        bath = max(cell.voltage - cell.p.e_rev - anode - cathode, 0.0)
    else:
        bath = i * (cell.r_ohm - cell.r_anode - cell.r_cathode)
    acd = cell.acd
    weights = [1.0 / (acd + gap) for gap in cell.variety.anode_gaps]
    scale = i / sum(weights)
    out = {"anode_position": anode_position(cell)}
    out.update(zip(_CURRENTS, [w * scale for w in weights], strict=True))
    out["anode_drop"], out["bath_drop"], out["cathode_drop"] = anode, bath, cathode
    return out


def anode_position(cell: Cell) -> float:
    """mm the hanger has been lowered since the anode was set: the burn-off, plus 10 mm per cm
    the positioner has closed the gap since (minus where it opened it)."""
    p, worn = cell.p, 1.0 - cell.m_anode / cell.anode_new_kg
    free_acd = cell.anode_set_acd + (p.acd_worn - p.acd_new) * worn  # cm, the wear alone
    return ANODE_TRAVEL_MM * worn + 10.0 * (free_acd - cell.acd)
