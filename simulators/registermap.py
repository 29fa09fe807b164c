"""The Modbus register map of the simulated plant.

Deliberately uses the encodings real PLCs use: float32 in all four word/byte orders, scaled
int16/uint16, uint32 and uint64 counters, a float64, a bit-packed alarm word, state enums, a
string, coils and writable holding registers. Cells (with their feeders) are unit ids 1..N,
the rectifier is unit id 100. The bundled tag maps in `mappings/` are generated from this
table (`python -m simulators export-mappings`) and a test checks they agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.collectors.modbus.types import ByteOrder, DataType, Space

RECTIFIER_UNIT = 100
IR, HR, CO, DI = Space.INPUT_REGISTER, Space.HOLDING_REGISTER, Space.COIL, Space.DISCRETE_INPUT
ABCD, CDAB, BADC, DCBA = ByteOrder.ABCD, ByteOrder.CDAB, ByteOrder.BADC, ByteOrder.DCBA
F32, F64 = DataType.FLOAT32, DataType.FLOAT64
I16, U16, U32, U64 = DataType.INT16, DataType.UINT16, DataType.UINT32, DataType.UINT64


@dataclass(frozen=True, slots=True)
class Register:
    """Where one catalog tag lives: raw = round(value / factor) for scaled integers."""

    tag: str
    space: Space
    address: int
    dtype: DataType
    order: ByteOrder = ABCD
    factor: float = 1.0
    length: int | None = None  # registers of a string

    @property
    def scaled(self) -> bool:
        return self.factor != 1.0


CELL = (
    Register("cell_voltage", IR, 0, F32, ABCD),
    Register("cell_current", IR, 2, I16, factor=0.01),
    Register("bath_temp", IR, 3, F32, CDAB),
    Register("wall_temp", IR, 5, I16, factor=0.1),
    Register("pseudo_resistance", IR, 6, F32, BADC),
    Register("oxide_conc", IR, 8, U16, factor=0.01),
    Register("acd", IR, 9, U16, factor=0.01),
    Register("anode_remaining", IR, 10, U16, factor=0.1),
    Register("metal_in_receiver", IR, 11, F32, DCBA),
    Register("metal_produced_total", IR, 13, U32, ABCD),
    Register("current_efficiency", IR, 15, U16, factor=0.1),
    Register("cf4_ppm", IR, 16, F32, ABCD),
    Register("state", IR, 18, U16),
    Register("alarm_word", IR, 19, U16),
    Register("tap_count", IR, 20, U32, CDAB),
    Register("last_tap_kg", IR, 22, F32, CDAB),
    Register("ae_count", IR, 24, U16),
    # off-gas, electrodes, iron cathode, lab analyses: appended from 50 on (addresses never move)
    Register("c2f6_ppm", IR, 50, F32, ABCD),
    Register("co_pct", IR, 52, U16, factor=0.001),
    Register("co2_pct", IR, 53, U16, factor=0.001),
    Register("offgas_flow", IR, 54, U16, factor=0.1),
    Register("anode_position", IR, 55, U16, factor=0.1),
    Register("anode1_current", IR, 56, I16, factor=0.001),
    Register("anode2_current", IR, 57, I16, factor=0.001),
    Register("anode3_current", IR, 58, I16, factor=0.001),
    Register("anode4_current", IR, 59, I16, factor=0.001),
    Register("anode_drop", IR, 60, U16, factor=0.001),
    Register("bath_drop", IR, 61, F32, CDAB),
    Register("cathode_drop", IR, 63, U16, factor=0.001),
    Register("fe_consumed_total", IR, 64, F32, ABCD),
    Register("lab_sample_time", IR, 66, U32, ABCD),  # epoch seconds of the sample
    Register("lab_metal_re", IR, 68, U16, factor=0.01),
    Register("lab_metal_fe", IR, 69, U16, factor=0.01),
    Register("lab_bath_lif", IR, 70, U16, factor=0.01),
    Register("lab_bath_oxide", IR, 71, U16, factor=0.01),
    Register("product", HR, 100, DataType.STRING, length=4),
    Register("tap_request", CO, 0, DataType.BOOL),
    # what the operators and the temperature loop do (a block of its own from 150)
    Register("tapped_total", IR, 150, U32, ABCD),
    Register("hours_since_tap", IR, 152, U16, factor=0.01),
    Register("anode_changes", IR, 153, U16),
    Register("acd_setpoint", IR, 154, U16, factor=0.01),
    Register("sludge", IR, 155, F32, ABCD),
    Register("rake_count", IR, 157, U16),
)

FEEDER = (
    Register("hopper_weight", IR, 200, F32, ABCD),
    Register("hopper_level", IR, 202, U16, factor=0.1),
    Register("feed_rate_setpoint", IR, 203, F32, CDAB),
    Register("feed_rate_actual", IR, 205, F32, CDAB),
    Register("screw_motor_current", IR, 207, I16, factor=0.01),
    Register("shot_count", IR, 208, U32, ABCD),
    Register("feed_totalizer", IR, 210, F64, ABCD),
    Register("regime", IR, 214, U16),
    Register("alarms", IR, 215, U16),
    Register("mode", HR, 200, U16),
    Register("refill_valve", DI, 200, DataType.BOOL),
)

RECTIFIER = (
    Register("line_current", IR, 0, F32, ABCD),
    Register("line_voltage", IR, 2, F32, CDAB),
    Register("dc_power", IR, 4, F32, ABCD),
    Register("energy_total", IR, 6, U64, ABCD),
    Register("oil_temp", IR, 10, I16, factor=0.1),
    Register("cw_flow", IR, 11, U16, factor=0.1),
    Register("state", IR, 12, U16),
    Register("alarms", IR, 13, U16),
    Register("line_current_sp", HR, 0, F32, ABCD),
    Register("reset_request", CO, 0, DataType.BOOL),
)

REGISTERS: dict[str, tuple[Register, ...]] = {
    "cell": CELL,
    "feeder": FEEDER,
    "rectifier": RECTIFIER,
}


def unit_of(device: str) -> int:
    """Unit id of a plant device: cellNN and cellNN_feeder are unit NN, the rectifier 100."""
    if device == "rectifier":
        return RECTIFIER_UNIT
    return int(device[4:6])
