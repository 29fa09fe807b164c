"""Cell-to-cell variety: what makes the cells of one potline differ (bath chemistry, heat
loss, cathode condition, how the anodes sit), drawn once per cell from its own seed.

The draws come from a stream of their own (`derive_seed(seed, "cellNN/variety")`), so they
do not shift the cell's noise stream. The spreads and their standing are in README.md.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulators.process.cell import Cell

ANODES = 4  # graphite anode blocks around the cathode rod, one current reading each


@dataclass(frozen=True, slots=True)
class VarietyParams:
    """Spreads of the per-cell differences [A]; means are the nominal cell."""

    lif_mean: float = 12.5  # wt% LiF in the fluoride bath (87.5 REF3 + 12.5 LiF)
    lif_sd: float = 0.25
    lif_resistivity: float = 0.04  # relative bath resistivity change per wt% LiF less
    oxide_sd: float = 0.15  # wt%, oxide at start around c_start
    loss_sd: float = 0.007  # relative heat-loss coefficient (lining, hood, insulation)
    cathode_sd: float = 0.004  # mOhm at 6 kA: contacts and deposits, better or worse
    anode_share: float = 0.6  # of the conductors' resistance: anode side (stubs, rods)
    anode_gap_sd: float = 0.25  # cm, how unevenly the anode blocks sit around the cathode
    offgas_sd: float = 0.05  # relative hood draught (damper setting)


@dataclass(frozen=True, slots=True)
class CellVariety:
    """One cell's differences from the nominal cell. `nominal()` has none."""

    lif_wt: float = 12.5
    resistivity: float = 1.0  # bath resistivity factor from the LiF content
    oxide_delta: float = 0.0  # wt% added to the nominal start oxide
    loss_factor: float = 1.0  # heat-loss coefficient factor
    cathode_extra: float = 0.0  # mOhm of cathode resistance at 6 kA (+ worse, - better)
    anode_share: float = 0.6
    anode_gaps: tuple[float, ...] = (0.0,) * ANODES  # cm per anode block, mean 0
    offgas_factor: float = 1.0

    @staticmethod
    def nominal() -> CellVariety:
        return CellVariety()

    @staticmethod
    def draw(rng: random.Random, p: VarietyParams | None = None) -> CellVariety:
        """A cell of a real line; the draws are clipped to physical bounds."""
        p = p or VarietyParams()
        lif = _clip(rng.gauss(p.lif_mean, p.lif_sd), p.lif_mean - 0.5, p.lif_mean + 0.5)
        gaps = [_clip(rng.gauss(0.0, p.anode_gap_sd), -0.6, 0.6) for _ in range(ANODES)]
        mean_gap = sum(gaps) / ANODES
        return CellVariety(
            lif_wt=lif,
            resistivity=math.exp(-p.lif_resistivity * (lif - p.lif_mean)),
            oxide_delta=_clip(rng.gauss(0.0, p.oxide_sd), -0.4, 0.4),
            loss_factor=_clip(rng.gauss(1.0, p.loss_sd), 0.988, 1.012),
            cathode_extra=_clip(rng.gauss(0.0, p.cathode_sd), -0.008, 0.008),
            anode_share=p.anode_share,
            anode_gaps=tuple(g - mean_gap for g in gaps),
            offgas_factor=_clip(rng.gauss(1.0, p.offgas_sd), 0.85, 1.15),
        )

    def conductors(self, r_ext: float, size_factor: float) -> tuple[float, float]:
        """(anode side, cathode side) of the conductors' resistance r_ext, mOhm."""
        anode = r_ext * self.anode_share
        return anode, r_ext - anode + self.cathode_extra * size_factor


def vary(cell: Cell, v: CellVariety) -> None:
    """Give `cell` (built as the nominal cell) its bath chemistry, heat loss and cathode, and
    start it at its own steady state. Its heat loss is calibrated on the nominal chemistry,
    so the differences show in its voltage and temperature."""
    p = cell.p
    cell.variety, cell.anode_new_kg = v, cell._anode0
    cell._r_melt_ref *= v.resistivity
    cell.r_anode, cell.r_cathode = v.conductors(cell._r_ext, p.size_factor)
    cell._r_ext = cell.r_anode + cell.r_cathode
    cell.c_start = p.c_start + v.oxide_delta
    cell.m_ox = cell.c_start * cell.m_bath / 100.0
    cell.k_loss *= v.loss_factor
    feed_kg_h = cell.product.oxide_per_re_kg * cell.product.re_kg_per_kah * p.nominal_ka * p.eta0
    cold_feed_w = feed_kg_h / 3600.0 * p.heat_oxide_j_kg
    # fixed point of the heat balance, damped: the bath resistivity falls as T rises, and
    # about as steeply as the loss rises, so the plain iteration would oscillate
    for _ in range(40):
        u = cell._normal_voltage(p.nominal_ka, cell.c_start)[0]
        heat_w = p.nominal_ka * (u - p.u_thermoneutral) * 1000.0 - cold_feed_w
        cell.temp += 0.5 * (p.t_amb + heat_w / cell.k_loss - cell.temp)
    cell.temp_meas = cell.temp
    cell.wall = p.t_amb + p.wall_fraction * (cell.temp - p.t_amb)
    u0, cell.e_back, cell.r_ohm = cell._normal_voltage(p.nominal_ka, cell.c_start)
    cell.u_true = cell.voltage = u0
    lean = (cell.c_start - cell._c_crit_nom) / p.cf4_lean_scale
    cell.cf4 = p.cf4_lean_ppm * math.exp(-lean)


def _clip(x: float, low: float, high: float) -> float:
    return min(max(x, low), high)
