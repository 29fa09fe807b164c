"""`gateway once --raw` and the implausible-value hint for Modbus: the registers each value
was decoded from, noted from the answers of a collector built for `once`, and the `gateway
probe` command that shows a tag's registers with their neighbours."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gateway.collectors.modbus.compile import ConnectionPlan, ModbusTagPlan
from gateway.collectors.modbus.planner import ReadRequest
from gateway.collectors.modbus.probeargs import probe_command
from gateway.collectors.modbus.types import REGISTER_WIDTH, DataType, Space
from gateway.model import Point, Sample

if TYPE_CHECKING:  # the hint needs no pymodbus
    from gateway.collectors.modbus.collector import ModbusConnection

SHORT = {
    Space.HOLDING_REGISTER: "HR",
    Space.INPUT_REGISTER: "IR",
    Space.COIL: "coil",
    Space.DISCRETE_INPUT: "DI",
}


def where(tag: ModbusTagPlan) -> str:
    """`HR 100..101`, `coil 7`."""
    last = tag.address + tag.count - 1
    return f"{SHORT[tag.space]} {tag.address}" + (f"..{last}" if last > tag.address else "")


def layout(tag: ModbusTagPlan) -> str:
    """How the registers were decoded: type, byte order where it matters, bit."""
    if tag.dtype is DataType.BOOL:
        return ""
    if tag.dtype is DataType.BIT:
        swapped = " BADC" if tag.order.swap_bytes else ""
        return f"bit {tag.bit}{swapped}"
    if REGISTER_WIDTH.get(tag.dtype, 1) > 1:
        return f"{tag.dtype.value} {tag.order.value}"
    # one register (or a string's, two characters each) has no word order
    return f"{tag.dtype.value} BADC" if tag.order.swap_bytes else tag.dtype.value


def source_text(tag: ModbusTagPlan, values: Sequence[int | bool] | None) -> str:
    """`<- HR 100..101 [0x5000 0x449A] float32 CDAB`; `(not read)` without an answer."""
    if values is None:
        return f"<- {where(tag)} (not read)"
    if tag.space.is_bit:
        shown = " ".join(str(int(v)) for v in values)
    else:
        shown = " ".join(f"0x{int(v):04X}" for v in values)
    return f"<- {where(tag)} [{shown}] {layout(tag)}".rstrip()


class RegisterNotes:
    """The registers of every tag a collector read, from the answers it got."""

    def __init__(self, plan: ConnectionPlan) -> None:
        self.tags = {tag.point: tag for tag in plan.tag_plans()}
        self.values: dict[Point, list[int | bool]] = {}

    def answered(self, request: ReadRequest[ModbusTagPlan], values: Sequence[int | bool]) -> None:
        for span in request.spans:
            offset = span.address - request.start
            self.values[span.key.point] = list(values[offset : offset + span.key.count])

    def __call__(self, sample: Sample) -> str:
        tag = self.tags.get(sample.point)
        return source_text(tag, self.values.get(sample.point)) if tag is not None else ""


def sources(plan: ConnectionPlan, collector: ModbusConnection) -> Callable[[Sample], str]:
    """The plugin's `sources`: note the answers of `collector` (before it scans)."""
    notes = RegisterNotes(plan)
    collector.answered = notes.answered
    return notes


def raw_limits(tag: ModbusTagPlan) -> tuple[float, float] | None:
    """The tag's range in raw units (before its scale), as the registers hold it."""
    if tag.range is None:
        return None
    if tag.scale is None:
        return tag.range
    factor, offset = tag.scale
    if factor == 0:
        return None
    low, high = ((limit - offset) / factor for limit in tag.range)
    return (min(low, high), max(low, high))


def inspect_command(plan: ConnectionPlan, point: Point) -> str:
    """The plugin's `inspect_command`: `gateway probe` of the tag's registers and around."""
    for scan in plan.scans:
        for tag in scan.tags:
            if tag.point is point:
                return probe_command(
                    plan.endpoint, scan.unit, tag.space, tag.address, tag.count, raw_limits(tag)
                )
    return ""
