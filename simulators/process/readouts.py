"""What a cell's PLC reads out: its state, its alarm word and the values of its catalog tags
(read-outs only: no state of their own, no random numbers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulators.catalog import CellAlarm, CellState
from simulators.process.cellops import RECEIVER_FULL, SLUDGE_HIGH
from simulators.process.electrodes import electrode_values

if TYPE_CHECKING:
    from simulators.process.cell import Cell


def cell_state(cell: Cell) -> CellState:
    """The state a cell's PLC shows, the first that applies."""
    if cell.cut_out:
        return CellState.CUT_OUT
    if cell.ae:
        return CellState.ANODE_EFFECT
    if cell.tapping:
        return CellState.TAPPING
    if cell._since_change < cell.p.anode_change_s:
        return CellState.ANODE_CHANGE
    if not cell.powered:
        return CellState.SHUTDOWN
    return CellState.FEEDING if cell.feeder.delivering else CellState.RUN


def cell_alarms(cell: Cell) -> CellAlarm:
    """The alarm word, from the measured temperature and voltage and the cell's state."""
    p, temp, tc_ok = cell.p, cell.temp_meas, not cell.tc_open
    c_crit = cell._c_crit_nom * cell.current / cell._inom
    lean = cell.powered and cell.oxide_conc < c_crit + p.oxide_low_margin
    flags = (
        (cell.ae, CellAlarm.ANODE_EFFECT),
        (tc_ok and temp > p.temp_high, CellAlarm.TEMP_HIGH),
        (tc_ok and temp < p.temp_low, CellAlarm.TEMP_LOW),
        (cell.voltage > p.voltage_high, CellAlarm.VOLTAGE_HIGH),
        (lean, CellAlarm.OXIDE_LOW),
        (cell.tc_open, CellAlarm.TC_FAIL),
        (cell.m_metal >= RECEIVER_FULL * cell.receiver_capacity, CellAlarm.RECEIVER_FULL),
        (cell.m_sludge > SLUDGE_HIGH * cell.m_bath, CellAlarm.SLUDGE_HIGH),
    )
    return CellAlarm(sum(bit for on, bit in flags if on))


def cell_values(cell: Cell) -> dict[str, int | float | bool | str]:
    """Every catalog tag of a cell, in engineering units."""
    return {
        "cell_voltage": cell.voltage,
        "cell_current": cell.current_meas,
        "bath_temp": cell.p.tc_open_value if cell.tc_open else cell.temp_meas,
        "wall_temp": cell.wall,
        "pseudo_resistance": cell.pseudo_resistance,
        "oxide_conc": cell.oxide_conc,
        "acd": cell.acd,
        "anode_remaining": 100.0 * cell.m_anode / cell._anode0,
        "metal_in_receiver": cell.m_metal,
        "metal_produced_total": int(cell.produced),
        "current_efficiency": 100.0 * cell.eta,
        "cf4_ppm": cell.cf4,
        "state": int(cell.state()),
        "alarm_word": int(cell.alarms()),
        "tap_count": cell.tap_count,
        "last_tap_kg": cell.last_tap_kg,
        "ae_count": cell.ae_count,
        "product": cell.product.name,
        "tap_request": cell.tapping,
        **cell.offgas.values(),
        **electrode_values(cell),
        "fe_consumed_total": cell.fe_consumed_kg,
        **cell.lab.values(),
        "tapped_total": int(cell.tapped_total),
        "hours_since_tap": cell.since_tap / 3600.0,
        "anode_changes": cell.anode_changes,
        "acd_setpoint": cell.acd if cell.acd_setpoint is None else cell.acd_setpoint,
        "sludge": cell.m_sludge,
        "rake_count": cell.rake_count,
    }
