"""Where every numeric tag of the catalog stays while a 6 kA potline runs normally (the
operators on, no fault injected): the ranges a long run is held to (a week in
tests/unit/test_week_in_range.py, a day of the CLI in tests/integration/
test_simulated_week.py), one per tag with its source or reason. `limits` gives every tag's
bounds at an instant of a run, `outside` what a device's values break of them.

[P] a published figure (the process README's "Ranges" and "Sources"); [M] the model's own
limits or steady state (process/README.md); [A] an assumption for normal operation. A counter's
upper bound grows with the run (`per_hour`); the rectifier's line values scale with the number
of cells (`per_cell`); `epoch` marks a time stamp, bounded by the run's start and the line's
time instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from simulators.catalog import CATALOG, Kind


@dataclass(frozen=True, slots=True)
class Range:
    low: float
    high: float
    source: str
    per_hour: float = 0.0  # added to `high` for every hour of the run (counters)
    per_cell: bool = False  # low, high and per_hour are per cell of the line
    epoch: bool = False  # epoch seconds between the run's start and the line's time

    def bounds(self, hours: float, cells: int) -> tuple[float, float]:
        """(low, high) after `hours` of a line of `cells` cells."""
        scale = cells if self.per_cell else 1
        return self.low * scale, (self.high + self.per_hour * hours) * scale


_OXIDE = "1.125 wt% (anode-effect onset at 6 kA) + 0.2 to 3.0: Nd2O3 solubility 2-4 wt% [P]"
_METAL_KG_H = 14.0  # kg/h: Faraday at 6 kA is 10.8 kg Nd/h at 100 %; Gd-Fe alloy ~11.7 [M]
NO_ALARM = "no alarm bit in normal operation [A]"

CELL: dict[str, Range] = {
    "cell_voltage": Range(8.0, 11.0, "8-11 V for 3-6 kA cells; 8.6 V at 6 kA [P]"),
    "cell_current": Range(5.7, 6.3, "the line current: 6 kA setpoint, regulated [M]"),
    "bath_temp": Range(1030.0, 1070.0, "operation at ~1050 degC (EURARE; SINTEF 1040 degC) [P]"),
    "wall_temp": Range(400.0, 500.0, "the model's crucible wall, ~455 degC [M]"),
    "pseudo_resistance": Range(1.03, 1.53, "(U - 1.8 V) / I of 8-11 V at 6 kA [P]"),
    "oxide_conc": Range(1.325, 3.0, _OXIDE),
    "acd": Range(7.0, 12.0, "the anode positioner's travel [M]"),
    "acd_setpoint": Range(7.0, 12.0, "the anode positioner's travel [M]"),
    "anode_remaining": Range(10.0, 100.0, "changed when 15 % is left [M]"),
    "metal_in_receiver": Range(0.0, 36.1, "heel to the tap at 45 % of the 78 kg receiver [M]"),
    "metal_produced_total": Range(0.0, 0.0, "Faraday's law at 6 kA [P]", per_hour=_METAL_KG_H),
    "tapped_total": Range(0.0, 0.0, "at most what was made [P]", per_hour=_METAL_KG_H),
    "current_efficiency": Range(65.0, 82.0, "~70 % to nearly 80 % for 3-10 kA cells [P]"),
    "cf4_ppm": Range(0.0, 20.0, "low-voltage PFC outside an anode effect, <= 20 ppm [M]"),
    "c2f6_ppm": Range(0.0, 1.0, "C2F6 only in an anode effect [P]"),
    "co_pct": Range(0.01, 0.3, "0.014 PrNd to 0.14 GdFe vol% at 6 kA, C and O balance [M]"),
    "co2_pct": Range(0.4, 1.0, "~0.64 vol% CO2 at 6 kA, from the oxygen balance [M]"),
    "offgas_flow": Range(250.0, 350.0, "the hood fan's flow, +-5 % per cell [M]"),
    "anode_position": Range(-5.0, 200.0, "worn down; the loop lifts a new anode up to 2.5 mm [M]"),
    **{
        f"anode{k}_current": Range(1.2, 1.8, "a quarter of 6 kA, per block's seating [M]")
        for k in range(1, 5)
    },
    "anode_drop": Range(0.1, 0.4, "anode bus, stubs and rods [M]"),
    "bath_drop": Range(5.0, 7.5, "the bath's IR drop at 6 kA [M]"),
    "cathode_drop": Range(0.05, 0.3, "cathode rod and contacts [M]"),
    "fe_consumed_total": Range(0.0, 0.0, "Gd-Fe's iron cathode, ~3 kg/h [M]", per_hour=4.0),
    "lab_sample_time": Range(0.0, 0.0, "a sample of this run [M]", epoch=True),
    "lab_metal_re": Range(70.0, 100.0, "Nd/PrNd > 99 wt%; Gd in Gd-Fe ~75 wt% [P]"),
    "lab_metal_fe": Range(0.0, 30.0, "Nd/PrNd < 0.1 wt%; Gd-Fe alloy ~25 wt% Fe [P]"),
    "lab_bath_lif": Range(11.5, 13.5, "87.5 NdF3-12.5 LiF wt% +- the cells' spread [P]"),
    "lab_bath_oxide": Range(1.325, 3.0, _OXIDE),
    "state": Range(0.0, 3.0, "RUN, FEEDING, TAPPING or ANODE_CHANGE: no upset [A]"),
    "alarm_word": Range(0.0, 0.0, NO_ALARM),
    "tap_count": Range(0.0, 1.0, "a tap every 2-8 h [P]", per_hour=0.5),
    "last_tap_kg": Range(0.0, 36.1, "at most the receiver's tap level [M]"),
    "ae_count": Range(0.0, 1.0, "under one anode effect per cell-day [A]", per_hour=1 / 24),
    "tap_request": Range(0.0, 1.0, "a command [M]"),
    "hours_since_tap": Range(0.0, 8.0, "a tap every 2-8 h [P]"),
    "anode_changes": Range(0.0, 1.0, "an anode lasts ~11 days [M]", per_hour=1 / 120),
    "sludge": Range(0.0, 9.0, "raked above 1.5 kg/kA [M]"),
    "rake_count": Range(0.0, 1.0, "a rake at most every 12 h [A]", per_hour=1 / 12),
}

FEEDER: dict[str, Range] = {
    "hopper_weight": Range(10.0, 210.0, "35 kg/kA hopper, refilled before it runs low [M]"),
    "hopper_level": Range(5.0, 100.0, "refilled before HOPPER_LOW [M]"),
    "feed_rate_setpoint": Range(4.0, 20.0, "~9-12 kg/h of oxide, under/over-feed cycles [M]"),
    "feed_rate_actual": Range(0.0, 25.0, "shots of the 180 kg/h screw, averaged [M]"),
    "screw_motor_current": Range(0.0, 6.0, "2-6 A running, 0 idle; >10 A is a jam [M]"),
    "shot_count": Range(0.0, 0.0, "a shot every ~3 min [M]", per_hour=40.0),
    "feed_totalizer": Range(0.0, 0.0, "the oxide feed rate [M]", per_hour=20.0),
    "regime": Range(0.0, 3.0, "every FeedRegime is normal control [M]"),
    "mode": Range(0.0, 3.0, "any FeedMode is an operator's choice [M]"),
    "refill_valve": Range(0.0, 1.0, "a valve [M]"),
    "alarms": Range(0.0, 0.0, NO_ALARM),
}

RECTIFIER: dict[str, Range] = {
    "line_current": Range(5.7, 6.3, "6 kA setpoint, regulated [M]"),
    "line_current_sp": Range(0.0, 7.5, "0 to 1.25 x nominal [M]"),
    "line_voltage": Range(8.0, 11.5, "8-11 V per cell plus the busbars [P]", per_cell=True),
    "dc_power": Range(45.0, 72.0, "line voltage x line current [P]", per_cell=True),
    "energy_total": Range(0.0, 0.0, "the DC power [P]", per_hour=72.0, per_cell=True),
    "oil_temp": Range(40.0, 85.0, "45 + 30 (I/I_nom)^2 degC; OIL_HIGH above 85 [M]"),
    "cw_flow": Range(10.0, 14.0, "12 m3/h +- 0.5 %; CW_LOW below 8 [M]"),
    "state": Range(2.0, 2.0, "REGULATING [M]"),
    "alarms": Range(0.0, 0.0, NO_ALARM),
    "reset_request": Range(0.0, 1.0, "a command [M]"),
}

RANGES: dict[str, dict[str, Range]] = {"cell": CELL, "feeder": FEEDER, "rectifier": RECTIFIER}


def unranged() -> list[str]:
    """`kind.tag` of every numeric catalog tag without a range, and of every range without a
    tag (a new tag must come with its range)."""
    missing = [
        f"{kind}.{tag.name}"
        for kind, tags in CATALOG.items()
        for tag in tags
        if tag.kind is not Kind.TEXT and tag.name not in RANGES[kind]
    ]
    names = {kind: {tag.name for tag in tags} for kind, tags in CATALOG.items()}
    extra = [f"{kind}.{tag}" for kind, tags in RANGES.items() for tag in tags]
    return missing + [e for e in extra if e.split(".")[1] not in names[e.split(".")[0]]]


Limits = dict[str, tuple[float, float]]


def limits(kind: str, cells: int, start_s: float, now_s: float) -> Limits:
    """tag -> (low, high) of a `kind` device at `now_s` (epoch seconds) of a run of `cells`
    cells that began at `start_s`."""
    hours = (now_s - start_s) / 3600.0
    return {
        tag: (start_s, now_s) if spec.epoch else spec.bounds(hours, cells)
        for tag, spec in RANGES[kind].items()
    }


def outside(
    values: Mapping[str, float | int | bool | str], bounds: Limits
) -> dict[str, tuple[float, float, float]]:
    """Each ranged tag of `values` outside its `bounds` (of `limits`) -> (value, low, high);
    a tag `values` lacks is not checked here."""
    out: dict[str, tuple[float, float, float]] = {}
    for tag, (low, high) in bounds.items():
        value = float(values.get(tag, low))
        if not low <= value <= high:
            out[tag] = (value, low, high)
    return out


def out_of_range(
    kind: str,
    values: Mapping[str, float | int | bool | str],
    cells: int,
    start_s: float,
    now_s: float,
) -> dict[str, tuple[float, float, float]]:
    """Each numeric tag of a `kind` device's `values` outside its range at `now_s` (epoch
    seconds) of a run of `cells` cells that began at `start_s` -> (value, low, high)."""
    return outside(values, limits(kind, cells, start_s, now_s))
