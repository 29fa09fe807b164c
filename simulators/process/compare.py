"""The simulator's steady state against published figures, as a Markdown table.

`python -m simulators compare` prints the table; `--write` puts it into
simulators/process/README.md between its `compare:start` and `compare:end` markers (a test
checks the README holds what this prints). Each product runs a small potline at its nominal
current (seed 0) and is averaged over hours 2 to 6, after the start-up transients.
The numbered sources are listed in the README's "Sources" section.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from simulators.process.offgas import NORMAL_M3_PER_MOL, GasParams
from simulators.process.params import M_GD, M_ND, M_PR, W_PR_IN_PRND
from simulators.process.plant import Plant

README = Path(__file__).with_name("README.md")
START, END = "<!-- compare:start -->", "<!-- compare:end -->"
M_C = 12.011
PRODUCTS = ("Nd", "PrNd", "GdFe")
CELLS, SEED, WARM_H, MEASURE_H = 4, 0, 2, 4


@dataclass(frozen=True, slots=True)
class Row:
    """One simulated figure and the range the sources give."""

    product: str
    quantity: str
    unit: str
    simulated: float
    low: float
    high: float
    source: str
    digits: int = 1

    @property
    def in_range(self) -> bool:
        return self.low <= self.simulated <= self.high


def _re_molar(product: str) -> float:
    """Mean molar mass of the rare-earth metal of a product (for the carbon per kg)."""
    if product == "PrNd":
        return 1.0 / (W_PR_IN_PRND / M_PR + (1.0 - W_PR_IN_PRND) / M_ND)
    return M_GD if product == "GdFe" else M_ND


def carbon_range(product: str, efficiency: float) -> tuple[float, float]:
    """kg of carbon per kg of rare-earth metal made at `efficiency` (0..1) that may leave in
    the off-gas: the anode reactions take 3 electrons per metal atom of the charge, 4 per C
    as CO2 (the least carbon) or 2 per C as CO (the most), and the charge is 1/efficiency of
    the metal made; at the top, the air burn at the open top [A] comes on top."""
    per_mol = M_C / _re_molar(product) / efficiency
    return 0.75 * per_mol, 1.5 * per_mol + GasParams().air_burn_per_metal_kg


def offgas_carbon_kg_s(values: Mapping[str, object]) -> float:
    """kg/s of carbon leaving a cell as CO + CO2, from its off-gas tags (flow, vol%)."""
    flow = float(values["offgas_flow"])  # type: ignore[arg-type]  # Nm3/h
    pct = float(values["co_pct"]) + float(values["co2_pct"])  # type: ignore[arg-type]
    return flow / 3600.0 * pct / 100.0 / NORMAL_M3_PER_MOL * M_C / 1000.0


def simulate(product: str) -> list[Row]:
    """Run one product's potline and compare its averages with the published ranges."""
    plant = Plant(cells=CELLS, product=product, seed=SEED)
    for _ in range(WARM_H * 3600):
        plant.step(1.0)
    cells = plant.cells
    produced0 = [c.produced for c in cells]
    sums = {"cell_voltage": 0.0, "bath_temp": 0.0, "current_efficiency": 0.0, "oxide_conc": 0.0}
    carbon_kg = 0.0
    steps = MEASURE_H * 3600
    for _ in range(steps):
        plant.step(1.0)
        for cell in cells:
            values = cell.values()
            carbon_kg += offgas_carbon_kg_s(values)  # one step of 1 s
            for tag in sums:
                sums[tag] += float(values[tag])
    mean = {tag: total / (steps * len(cells)) for tag, total in sums.items()}
    product_kg = sum(c.produced - p0 for c, p0 in zip(cells, produced0, strict=True))
    re_kg = product_kg * cells[0].product.re_fraction
    carbon = carbon_kg / re_kg
    carbon_limits = carbon_range(product, mean["current_efficiency"] / 100.0)
    row = partial(Row, product)
    return [
        row("current efficiency", "%", mean["current_efficiency"], 70, 80, "[1] [2]"),
        row("cell voltage", "V", mean["cell_voltage"], 8.0, 11.0, "[3] [4]", 2),
        row("bath temperature", "°C", mean["bath_temp"], 1040, 1060, "[5] [6]", 0),
        row("dissolved oxide", "wt%", mean["oxide_conc"], 1.0, 4.0, "[8] [9] [10]", 2),
        row("carbon in CO + CO2", "kg C/kg RE", carbon, *carbon_limits, "[11]", 3),
    ]


def _number(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def table(rows: list[Row]) -> str:
    """The Markdown table of the rows."""
    lines = [
        "| product | quantity | unit | simulated | published range | sources |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        published = f"{_number(r.low, r.digits)} to {_number(r.high, r.digits)}"
        lines.append(
            f"| {r.product} | {r.quantity} | {r.unit} | {_number(r.simulated, r.digits)} "
            f"| {published} | {r.source} |"
        )
    return "\n".join(lines)


def all_rows() -> list[Row]:
    return [row for product in PRODUCTS for row in simulate(product)]


def write_readme(text: str, path: Path = README) -> None:
    """Replace the table between the README's markers."""
    readme = path.read_text(encoding="utf-8")
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"{path}: no {START} ... {END} markers")
    path.write_text(f"{head}{START}\n{text}\n{END}{tail}", encoding="utf-8")


def main(write: bool = False) -> int:
    rows = all_rows()
    text = table(rows)
    print(text)
    if write:
        write_readme(text)
    outside = [r for r in rows if not r.in_range or not math.isfinite(r.simulated)]
    for r in outside:
        print(f"outside its published range: {r.product} {r.quantity} {r.simulated:g}")
    return 1 if outside else 0
