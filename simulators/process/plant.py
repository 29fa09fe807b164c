"""The plant: a rectifier feeding a potline of cells in series, each with its oxide feeder.

Headless and deterministic: the same seed and the same sequence of calls give bit-identical
values. Read-outs (`values()`, `bad()`) never draw random numbers or change the state.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from simulators.catalog import CATALOG, FeedMode
from simulators.process.cell import Cell
from simulators.process.feeder import Feeder
from simulators.process.operators import Action, Operators
from simulators.process.params import (
    PRODUCTS,
    CellParams,
    FeederParams,
    RectifierParams,
    derive_seed,
)
from simulators.process.rectifier import Rectifier
from simulators.process.variety import CellVariety

MAX_DT = 1.0
Value = int | float | bool | str


def _flag(value: object, tag: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{tag}: expected a boolean, got {value!r}")


class Plant:
    """A potline of `cells` cells making `product` (one for all, or one per cell)."""

    FAULTS = (
        "thermocouple_open",
        "feeder_jam",
        "hopper_empty",
        "anode_effect",
        "rectifier_trip",
        "earth_fault",
        "loadcell_fault",
        "cell_cut_out",
    )

    def __init__(
        self,
        cells: int = 12,
        product: str | Sequence[str] = "Nd",
        seed: int = 0,
        line_current_ka: float = 6.0,
        operators: bool = True,
        max_step: float = MAX_DT,
    ) -> None:
        if isinstance(cells, bool) or not isinstance(cells, int) or cells < 1:
            raise ValueError(f"cells must be a positive integer, got {cells!r}")
        if not math.isfinite(line_current_ka) or line_current_ka <= 0.0:
            raise ValueError(f"line current must be positive, got {line_current_ka!r} kA")
        products = [product] * cells if isinstance(product, str) else list(product)
        if len(products) != cells:
            raise ValueError(f"{len(products)} products given for {cells} cells")
        for name in products:
            if name not in PRODUCTS:
                raise ValueError(f"unknown product {name!r}: one of {', '.join(PRODUCTS)}")
        if not math.isfinite(max_step) or not 0.0 < max_step <= 10.0:
            raise ValueError(f"max_step must be in (0, 10] s, got {max_step!r}")
        self.t = 0.0
        self.seed = seed
        self.max_step = max_step
        self._epoch_ns: int | None = None  # until the runner (or the CLI) sets it
        cell_params = CellParams(nominal_ka=line_current_ka)
        feeder_params = FeederParams(nominal_ka=line_current_ka)
        self.cells: list[Cell] = []
        for n, name in enumerate(products, start=1):
            cell_name = f"cell{n:02d}"
            feeder_name = f"{cell_name}_feeder"
            feeder = Feeder(feeder_name, PRODUCTS[name], feeder_params, self._rng(feeder_name))
            variety = CellVariety.draw(self._rng(f"{cell_name}/variety"))
            rng, lab_rng = self._rng(cell_name), self._rng(f"{cell_name}/lab")
            self.cells.append(
                Cell(cell_name, PRODUCTS[name], cell_params, rng, feeder, variety, lab_rng)
            )
        u_nominal = sum(c.u_true for c in self.cells) / cells
        self.rectifier = Rectifier(
            RectifierParams(nominal_ka=line_current_ka), cells, u_nominal, self._rng("rectifier")
        )
        self.rectifier.finish(0.0, sum(c.u_true for c in self.cells))
        self._devices: dict[str, tuple[str, Cell | Feeder | Rectifier]] = {
            "rectifier": ("rectifier", self.rectifier)
        }
        for cell in self.cells:
            self._devices[cell.name] = ("cell", cell)
            self._devices[cell.feeder.name] = ("feeder", cell.feeder)
        # the crew and the temperature loop; None runs the cells open loop
        self.operators = Operators(self.cells) if operators else None

    @property
    def epoch_ns(self) -> int | None:
        """The wall-clock instant of t = 0 (the runner sets it; None before): lab sample times
        are epoch seconds from it, and the OPC UA PLC's first source timestamps."""
        return self._epoch_ns

    @epoch_ns.setter
    def epoch_ns(self, ns: int) -> None:
        self._epoch_ns = ns
        for cell in self.cells:
            cell.lab.epoch_s = ns // 1_000_000_000

    def _rng(self, component: str) -> random.Random:
        return random.Random(derive_seed(self.seed, component))

    # ---------------------------------------------------------------- stepping
    def step(self, dt: float = 1.0) -> None:
        """Advance the plant by dt simulated seconds (split into steps of at most 1 s)."""
        if not math.isfinite(dt) or dt <= 0.0:
            raise ValueError(f"dt must be positive, got {dt!r}")
        n = max(math.ceil(dt / self.max_step - 1e-9), 1)
        sub = dt / n
        for k in range(1, n + 1):
            self._step(sub)
            if self.operators is not None:
                self.operators.step(sub, self.t + k * sub, self.cells)
        self.t += dt

    def take_actions(self) -> list[Action]:
        """What the operators did since the last call (empty with operators off)."""
        return self.operators.take_actions() if self.operators is not None else []

    def _step(self, dt: float) -> None:
        cells, rectifier = self.cells, self.rectifier
        e_sum = r_sum = 0.0
        for cell in cells:
            cell.update_anode_effect(dt)
            e, r = cell.load()
            e_sum += e
            r_sum += r
        current = rectifier.regulate(dt, e_sum, r_sum)
        measured = rectifier.current_meas
        u_sum = 0.0
        for cell in cells:
            fed = cell.feeder.step(dt, cell)
            if cell.cut_out:  # the line current flows through the shorting bars
                cell.step(dt, 0.0, 0.0, fed)
                cell.bridged(current)
            else:
                cell.step(dt, current, measured, fed)
            u_sum += cell.u_true
        rectifier.finish(dt, u_sum)

    # ---------------------------------------------------------------- devices and values
    def device_names(self) -> list[str]:
        return list(self._devices)

    def _device(self, device: str) -> tuple[str, Cell | Feeder | Rectifier]:
        try:
            return self._devices[device]
        except KeyError:
            raise ValueError(f"unknown device {device!r}") from None

    def kind(self, device: str) -> str:
        return self._device(device)[0]

    def values(self, device: str) -> dict[str, Value]:
        """Every catalog tag of the device, in engineering units."""
        return self._device(device)[1].values()

    def bad(self, device: str) -> dict[str, str]:
        """Tags whose sensor has failed -> OPC UA status name."""
        obj = self._device(device)[1]
        return obj.bad() if isinstance(obj, Cell | Feeder) else {}

    def cell(self, name: str) -> Cell:
        """A cell by its name, or by its feeder's name."""
        if self.kind(name) == "feeder":
            return self._only_cell(name.removesuffix("_feeder"))
        return self._only_cell(name)

    # ---------------------------------------------------------------- commands
    def write(self, device: str, tag: str, value: object) -> None:
        """Write a writable catalog tag (a command or setpoint)."""
        kind = self.kind(device)
        tags = {t.name: t for t in CATALOG[kind]}
        if tag not in tags:
            raise ValueError(f"{device} has no tag {tag!r}")
        if not tags[tag].writable:
            raise ValueError(f"{device}.{tag} is read-only")
        if tag == "tap_request":
            if _flag(value, tag):
                self.tap(device)
        elif tag == "mode":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"mode: expected a FeedMode number, got {value!r}")
            try:
                mode = FeedMode(value)
            except ValueError:
                raise ValueError(f"mode: {value!r} is not a FeedMode") from None
            self.set_feed_mode(device, mode)
        elif tag == "line_current_sp":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"line_current_sp: expected a number, got {value!r}")
            self.set_line_current(float(value))
        elif tag == "reset_request" and _flag(value, tag):
            self.reset_rectifier()

    def tap(self, cell: str) -> None:
        self._only_cell(cell).tap()

    def change_anode(self, cell: str) -> None:
        self._only_cell(cell).change_anode()

    def set_feed_mode(self, cell: str, mode: FeedMode) -> None:
        self.cell(cell).feeder.set_mode(FeedMode(mode))

    def set_line_current(self, ka: float) -> None:
        self.rectifier.set_setpoint(ka)

    def reset_rectifier(self) -> None:
        self.rectifier.reset()

    def _only_cell(self, name: str) -> Cell:
        obj = self._device(name)[1]
        if not isinstance(obj, Cell):
            raise ValueError(f"{name!r} is not a cell")
        return obj

    # ---------------------------------------------------------------- faults
    def inject(self, fault: str, target: str | None = None) -> None:
        """Start a process fault on `target` (a device name; none for rectifier_trip)."""
        self._fault(fault, target, True)

    def clear(self, fault: str, target: str | None = None) -> None:
        """End a process fault (see README.md for what clearing each one does)."""
        self._fault(fault, target, False)

    def _fault(self, fault: str, target: str | None, on: bool) -> None:
        if fault not in self.FAULTS:
            raise ValueError(f"unknown fault {fault!r}: one of {', '.join(self.FAULTS)}")
        if fault in ("rectifier_trip", "earth_fault"):
            self._rectifier_fault(fault, target, on)
            return
        if target is None:
            raise ValueError(f"{fault}: a target device is needed")
        if fault in ("feeder_jam", "hopper_empty", "loadcell_fault"):
            self._feeder_fault(fault, target, on)
            return
        cell = self._only_cell(target)
        if fault == "thermocouple_open":
            cell.tc_open = on
        elif fault == "cell_cut_out":
            cell.set_cut_out(on)
        elif on:
            cell.force_anode_effect()
        else:
            cell.kill_anode_effect()

    def _rectifier_fault(self, fault: str, target: str | None, on: bool) -> None:
        if target not in (None, "rectifier"):
            raise ValueError(f"{fault}: target must be the rectifier, not {target!r}")
        if fault == "earth_fault":
            self.rectifier.earth_fault = on
        elif on:
            self.rectifier.trip()
        else:  # clearing the trip is the operator's reset
            self.rectifier.reset()

    def _feeder_fault(self, fault: str, target: str, on: bool) -> None:
        feeder = self.cell(target).feeder
        if fault == "loadcell_fault":
            feeder.loadcell_failed = on
        elif fault == "feeder_jam":
            feeder.jammed = on
        elif on:
            feeder.empty()
        else:
            feeder.refill_blocked = False
