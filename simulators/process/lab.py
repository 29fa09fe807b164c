"""Lab analyses of one cell: a metal and a bath sample taken at irregular times, whose
results are published later (when the lab has analysed them) with the time of sampling.

- metal: rare-earth content (purity; Gd for the GdFe alloy) and iron, wt%;
- bath: LiF (the bath ratio) and dissolved oxide, wt%.
`lab_sample_time` is the sampling instant in epoch seconds (the plant's epoch plus its time):
OPC UA serves it as the source timestamp of the results, Modbus as a register pair.
A sample is taken every 3-6 h and analysed in 20-60 min [A]; the first results are those
of a sample taken at the start. Draws come from the lab's own random stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulators.process.cell import Cell


@dataclass(frozen=True, slots=True)
class LabParams:
    """Sampling and the analyses' scatter [A]."""

    interval_min_s: float = 3 * 3600.0
    interval_max_s: float = 6 * 3600.0
    delay_min_s: float = 20 * 60.0
    delay_max_s: float = 60 * 60.0
    purity: float = 99.7  # wt% rare earth of a pure metal at 1050 degC
    purity_per_k: float = 0.01  # lost per K hotter (more crucible and iron pick-up)
    purity_sd: float = 0.05
    purity_max: float = 99.95
    fe_share: float = 0.35  # of a pure metal's impurities (the rest: C, O, W/Mo)
    other_alloy: float = 0.3  # wt% of C, O, W/Mo in the GdFe alloy
    alloy_sd: float = 0.3  # wt%, Gd of the alloy
    lif_sd: float = 0.1  # wt%
    oxide_sd: float = 0.05  # wt%


class Lab:
    """The last published analysis of one cell and the sample being analysed."""

    def __init__(self, rng: random.Random, cell: Cell, params: LabParams | None = None) -> None:
        self._rng, self.p = rng, params or LabParams()
        self.epoch_s = 0  # the plant's epoch, whole seconds
        self.t = 0.0
        self.sample_t, self.results = 0.0, self._analyse(cell)
        self.samples = 1
        self._pending: tuple[float, float, dict[str, float]] | None = None  # due, taken, results
        self._next = self._draw(self.p.interval_min_s, self.p.interval_max_s)

    def _draw(self, low: float, high: float) -> float:
        return float(round(self._rng.uniform(low, high)))  # whole seconds, like the stamps

    def _analyse(self, cell: Cell) -> dict[str, float]:
        p, rng = self.p, self._rng
        re_fraction = cell.product.re_fraction
        if re_fraction < 1.0:
            metal_re = 100.0 * re_fraction + p.alloy_sd * rng.gauss(0.0, 1.0)
            metal_fe = 100.0 - metal_re - p.other_alloy
        else:
            metal_re = p.purity - p.purity_per_k * (cell.temp - cell.p.t_nominal)
            metal_re = min(metal_re + p.purity_sd * rng.gauss(0.0, 1.0), p.purity_max)
            metal_fe = p.fe_share * (100.0 - metal_re)
        return {
            "lab_metal_re": metal_re,
            "lab_metal_fe": metal_fe,
            "lab_bath_lif": cell.variety.lif_wt + p.lif_sd * rng.gauss(0.0, 1.0),
            "lab_bath_oxide": max(cell.oxide_conc + p.oxide_sd * rng.gauss(0.0, 1.0), 0.0),
        }

    def step(self, dt: float, cell: Cell) -> None:
        self.t += dt
        if self._pending is None and self.t >= self._next - 1e-9:
            delay = self._draw(self.p.delay_min_s, self.p.delay_max_s)
            self._pending = (self.t + delay, self.t, self._analyse(cell))
            self._next = self.t + self._draw(self.p.interval_min_s, self.p.interval_max_s)
        if self._pending is not None and self.t >= self._pending[0] - 1e-9:
            _, self.sample_t, self.results = self._pending
            self._pending = None
            self.samples += 1

    def values(self) -> dict[str, int | float]:
        return {"lab_sample_time": self.epoch_s + round(self.sample_t), **self.results}
