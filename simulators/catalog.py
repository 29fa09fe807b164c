"""The tags every simulated device publishes: one catalog shared by the process model, the
Modbus and OPC UA servers, the recorder and the bundled tag maps.

Values are engineering values (the unit given here). The process model fills them; the
protocol servers only encode them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    """Value kinds (how a protocol server must represent the value)."""

    FLOAT = "float"
    INT = "int"  # counters and integers
    BOOL = "bool"
    ENUM = "enum"  # small integer with names, see ENUMS
    BITS = "bits"  # bit-packed word, see BITS
    TEXT = "text"


@dataclass(frozen=True, slots=True)
class TagDef:
    """One published value of a device."""

    name: str
    kind: Kind
    unit: str = ""
    description: str = ""
    writable: bool = False  # a command or setpoint the plant acts on
    stamp: str = ""  # the tag holding this value's own sample time (epoch s), if it has one


class CellState(enum.IntEnum):
    RUN = 0
    FEEDING = 1
    TAPPING = 2
    ANODE_CHANGE = 3
    ANODE_EFFECT = 4
    CUT_OUT = 5
    SHUTDOWN = 6


class FeedMode(enum.IntEnum):
    AUTO_TIMER = 0
    AUTO_RESISTANCE = 1
    MANUAL = 2
    OFF = 3


class FeedRegime(enum.IntEnum):
    NOMINAL = 0
    UNDER = 1
    OVER = 2
    TRACK = 3


class RectifierState(enum.IntEnum):
    OFF = 0
    RAMP = 1
    REGULATING = 2
    LIMIT = 3
    TRIPPED = 4


class CellAlarm(enum.IntFlag):
    ANODE_EFFECT = 1 << 0
    TEMP_HIGH = 1 << 1
    TEMP_LOW = 1 << 2
    VOLTAGE_HIGH = 1 << 3
    OXIDE_LOW = 1 << 4
    TC_FAIL = 1 << 5
    RECEIVER_FULL = 1 << 6  # metal at 90 % of the receiver: tap now or it overflows
    SLUDGE_HIGH = 1 << 7  # sludge above 3 % of the bath: rake it


class FeederAlarm(enum.IntFlag):
    HOPPER_LOW = 1 << 0
    HOPPER_EMPTY = 1 << 1
    JAM = 1 << 2
    LOADCELL_FAULT = 1 << 3
    NO_FLOW = 1 << 4


class RectifierAlarm(enum.IntFlag):
    OVERCURRENT = 1 << 0
    TRIP = 1 << 1
    EARTH_FAULT = 1 << 2
    CW_LOW = 1 << 3
    OIL_HIGH = 1 << 4
    V_LIMIT = 1 << 5


F, N, B, E, W, T = Kind.FLOAT, Kind.INT, Kind.BOOL, Kind.ENUM, Kind.BITS, Kind.TEXT
S = "lab_sample_time"  # the lab analyses' own timestamp

CELL: tuple[TagDef, ...] = (
    TagDef("cell_voltage", F, "V", "cell voltage (8-11 V; 15-45 V in anode effect)"),
    TagDef("cell_current", F, "kA", "current through the cell (= line current)"),
    TagDef("bath_temp", F, "degC", "bath thermocouple"),
    TagDef("wall_temp", F, "degC", "crucible wall temperature"),
    TagDef("pseudo_resistance", F, "mOhm", "(U - 1.8 V) / I"),
    TagDef("oxide_conc", F, "wt%", "dissolved oxide (estimate)"),
    TagDef("acd", F, "cm", "anode-cathode distance"),
    TagDef("anode_remaining", F, "%", "graphite anode left"),
    TagDef("metal_in_receiver", F, "kg", "metal waiting to be tapped"),
    TagDef("metal_produced_total", N, "kg", "metal produced since start (counter)"),
    TagDef("current_efficiency", F, "%", "instantaneous current efficiency"),
    TagDef("cf4_ppm", F, "ppm", "CF4 in the off-gas"),
    TagDef("state", E, "", "CellState"),
    TagDef("alarm_word", W, "", "CellAlarm bits"),
    TagDef("tap_count", N, "", "taps since start"),
    TagDef("last_tap_kg", F, "kg", "metal taken at the last tap"),
    TagDef("ae_count", N, "", "anode effects since start"),
    TagDef("product", T, "", "Nd, PrNd or GdFe"),
    TagDef("tap_request", B, "", "write true to tap the cell", writable=True),
    # off-gas, electrodes, iron cathode, lab analyses (simulators/process/README.md)
    TagDef("c2f6_ppm", F, "ppm", "C2F6 in the off-gas (anode effects)"),
    TagDef("co_pct", F, "vol%", "CO in the off-gas"),
    TagDef("co2_pct", F, "vol%", "CO2 in the off-gas"),
    TagDef("offgas_flow", F, "Nm3/h", "off-gas flow of the hood"),
    TagDef("anode_position", F, "mm", "anode hanger lowered since the anode change"),
    *(TagDef(f"anode{k}_current", F, "kA", f"current of anode block {k}") for k in range(1, 5)),
    TagDef("anode_drop", F, "V", "voltage drop of the anode side (bus, stubs, rods)"),
    TagDef("bath_drop", F, "V", "voltage drop in the bath (with the gas film in an anode effect)"),
    TagDef("cathode_drop", F, "V", "voltage drop of the cathode side (rod, contacts)"),
    TagDef("fe_consumed_total", F, "kg", "iron taken from the consumable cathode (GdFe)"),
    TagDef("lab_sample_time", N, "s", "when the lab's last sample was taken (epoch s)", stamp=S),
    TagDef("lab_metal_re", F, "wt%", "lab: rare earth in the metal (Gd in GdFe)", stamp=S),
    TagDef("lab_metal_fe", F, "wt%", "lab: iron in the metal", stamp=S),
    TagDef("lab_bath_lif", F, "wt%", "lab: LiF in the bath (bath ratio)", stamp=S),
    TagDef("lab_bath_oxide", F, "wt%", "lab: dissolved oxide in the bath", stamp=S),
    TagDef("tapped_total", N, "kg", "metal tapped since start (counter)"),
    TagDef("hours_since_tap", F, "h", "time since the last tap ended (or the start)"),
    TagDef("anode_changes", N, "", "anode changes since start"),
    TagDef("acd_setpoint", F, "cm", "anode-cathode distance the temperature loop holds"),
    TagDef("sludge", F, "kg", "undissolved oxide on the crucible bottom (estimate)"),
    TagDef("rake_count", N, "", "sludge rakes since start"),
)

FEEDER: tuple[TagDef, ...] = (
    TagDef("hopper_weight", F, "kg", "load-cell weight of the hopper"),
    TagDef("hopper_level", F, "%", "hopper level"),
    TagDef("feed_rate_setpoint", F, "kg/h", "oxide feed-rate setpoint"),
    TagDef("feed_rate_actual", F, "kg/h", "delivered oxide rate"),
    TagDef("screw_motor_current", F, "A", "2-6 A normal, >10 A jammed"),
    TagDef("shot_count", N, "", "shots since start (counter)"),
    TagDef("feed_totalizer", F, "kg", "oxide delivered since start"),
    TagDef("regime", E, "", "FeedRegime"),
    TagDef("mode", E, "", "FeedMode", writable=True),
    TagDef("refill_valve", B, "", "hopper refill in progress"),
    TagDef("alarms", W, "", "FeederAlarm bits"),
)

RECTIFIER: tuple[TagDef, ...] = (
    TagDef("line_current", F, "kA", "DC line current"),
    TagDef("line_current_sp", F, "kA", "line-current setpoint", writable=True),
    TagDef("line_voltage", F, "V", "DC voltage across the potline"),
    TagDef("dc_power", F, "kW", "DC power"),
    TagDef("energy_total", N, "kWh", "energy since start (counter)"),
    TagDef("oil_temp", F, "degC", "transformer oil temperature"),
    TagDef("cw_flow", F, "m3/h", "cooling-water flow"),
    TagDef("state", E, "", "RectifierState"),
    TagDef("alarms", W, "", "RectifierAlarm bits"),
    TagDef("reset_request", B, "", "write true to reset a trip", writable=True),
)

CATALOG: dict[str, tuple[TagDef, ...]] = {"cell": CELL, "feeder": FEEDER, "rectifier": RECTIFIER}
