"""Checks of a validated Modbus device that pydantic cannot express field by field.

Each finding is (path relative to the device, message), the path pointing at the exact field
to fix, e.g. `(("tags", 3, "bit"), "type bit needs bit: 0..15")`. The checks every protocol
shares (scaling, deadband, range, scan, names, destinations) come from `gateway.config.checks`.
Warnings (`device_warnings`): valid maps that probably do not do what was meant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from gateway.collectors.modbus.buschecks import bus_unit, bus_warnings
from gateway.collectors.modbus.models import ModbusDevice, ModbusTag
from gateway.collectors.modbus.types import DataType, Space, register_count
from gateway.config.checks import (
    Found,
    Path,
    check_deadband,
    check_range,
    check_scale,
    check_scan,
    deadband_form,
    destinations,
    duplicate_names,
    reserved,
)
from gateway.config.linechecks import check_field_collisions, check_names

LAST_ADDRESS = 65535

#: space -> (number of its first register in Modicon notation, prefix, what the manual calls it)
MODICON = {
    Space.DISCRETE_INPUT: (10001, "1x", "discrete input"),
    Space.INPUT_REGISTER: (30001, "3x", "input register"),
    Space.HOLDING_REGISTER: (40001, "4x", "holding register"),
}
#: 0x (coils 00001-09999) cannot be told from plain addresses: YAML reads 00017 as 17


def check_device(device: ModbusDevice, positions: Sequence[int] | None = None) -> Found:
    """Every problem of `device` that validation alone does not find.

    `positions[i]` is the index in the input of `device.tags[i]`, for a device checked without
    its invalid tags (paths and messages then name the input's indexes); default: i.
    """
    pos = list(range(len(device.tags))) if positions is None else positions
    found: Found = []
    found += deadband_form(device.deadband, ("deadband",))
    found += reserved(device.metadata, ("metadata",))
    for index, tag in enumerate(device.tags):
        found += [(("tags", pos[index], *path), msg) for path, msg in check_tag(tag, device)]
    found += duplicate_names(device.tags, pos)
    found += _overlaps(device.tags, pos)
    found += destinations(device, pos)
    found += check_names(device, pos)  # what line protocol cannot carry
    found += check_field_collisions(device, pos)  # `temp_quality` next to `temp`
    found += bus_unit(device)  # unit ids a serial line cannot read
    return found


def check_tag(tag: ModbusTag, device: ModbusDevice) -> Found:
    """Problems of one tag on its own (paths relative to the tag)."""
    kind = None if tag.dtype.is_numeric else tag.dtype.value
    return [
        *_type_fits_space(tag),
        *_bit(tag),
        *_length(tag, device),
        *_address(tag),
        *check_scale(tag, kind),
        *check_deadband(tag, kind),
        *check_range(tag, kind),
        *check_scan(tag, device),
        *reserved(tag.tags, ("tags",)),
    ]


def registers_of(tag: ModbusTag) -> int:
    """Registers (or bits) the tag occupies; a string without length counts as one."""
    if tag.dtype is DataType.STRING:
        return tag.length or 1
    return register_count(tag.dtype)


def _type_fits_space(tag: ModbusTag) -> Found:
    dtype, space = tag.dtype, tag.space
    if space.is_bit and dtype is not DataType.BOOL:
        message = f"type {dtype.value} does not fit space {space.value}, which holds single bits"
        return [(("type",), message + " (use type bool)")]
    if not space.is_bit and dtype is DataType.BOOL:
        message = f"type bool does not fit space {space.value}: bool is for coil and "
        return [(("type",), message + "discrete_input (for a bit of a register use type bit)")]
    return []


def _bit(tag: ModbusTag) -> Found:
    if tag.dtype is DataType.BIT and tag.bit is None:
        return [(("bit",), "type bit needs bit: 0..15")]
    if tag.dtype is not DataType.BIT and tag.bit is not None:
        return [(("bit",), f"bit is only used with type bit (this tag is {tag.dtype.value})")]
    return []


def _length(tag: ModbusTag, device: ModbusDevice) -> Found:
    is_string = tag.dtype is DataType.STRING
    if is_string and tag.length is None:
        return [(("length",), "type string needs length: registers, two characters each")]
    if not is_string and tag.length is not None:
        return [
            (("length",), f"length is only used with type string (this tag is {tag.dtype.value})")
        ]
    count = registers_of(tag)
    if count > device.max_registers:
        field = "length" if is_string else "type"
        message = f"{count} registers do not fit in one request (max_registers is "
        return [((field,), message + f"{device.max_registers})")]
    return []


def _address(tag: ModbusTag) -> Found:
    last = tag.address + registers_of(tag) - 1
    if last > LAST_ADDRESS:
        return [
            (
                ("address",),
                f"registers {tag.address}..{last} run past the last address {LAST_ADDRESS}",
            )
        ]
    return []


def _overlaps(tags: Sequence[ModbusTag], pos: Sequence[int]) -> Found:
    """Tags of one space sharing a register; bit tags may share it (not the same bit)."""
    spans: dict[Space, list[tuple[int, int, int]]] = defaultdict(list)
    for index, tag in enumerate(tags):
        spans[tag.space].append((tag.address, tag.address + registers_of(tag) - 1, index))
    clashes: dict[int, int] = {}  # later tag -> earliest tag it clashes with
    for items in spans.values():
        active: list[tuple[int, int, int]] = []
        for start, end, index in sorted(items):
            active = [item for item in active if item[1] >= start]
            for _, _, other in active:
                later, earlier = max(index, other), min(index, other)
                if _clash(tags[later], tags[earlier]):
                    clashes[later] = min(earlier, clashes.get(later, earlier))
            active.append((start, end, index))
    return [_overlap(tags[i], tags[clashes[i]], pos[i], pos[clashes[i]]) for i in sorted(clashes)]


def _clash(one: ModbusTag, other: ModbusTag) -> bool:
    """Bit tags are views of a register: they may overlap a word tag, not the same bit."""
    bits = (one.dtype is DataType.BIT) + (other.dtype is DataType.BIT)
    if bits == 2:
        return one.bit is not None and one.bit == other.bit
    return bits == 0


def _overlap(tag: ModbusTag, other: ModbusTag, at: int, other_at: int) -> tuple[Path, str]:
    named = f"tag {other.name!r} (tags[{other_at}]"
    if tag.dtype is DataType.BIT and other.dtype is DataType.BIT:
        message = f"bit {tag.bit} of register {tag.address} is already {named})"
        return ("tags", at, "bit"), message
    if tag.space.is_bit:
        return ("tags", at, "address"), f"{tag.space.value} {tag.address} is already {named})"
    mine, theirs = _registers(tag), _registers(other)
    verb = "overlaps" if mine.startswith("register ") else "overlap"
    return ("tags", at, "address"), f"{mine} {verb} {named}, {theirs})"


def _registers(tag: ModbusTag) -> str:
    last = tag.address + registers_of(tag) - 1
    return f"register {last}" if last == tag.address else f"registers {tag.address}..{last}"


def device_warnings(device: ModbusDevice, positions: Sequence[int] | None = None) -> Found:
    """Warnings of a device's own fields (`positions` as in `check_device`)."""
    pos = list(range(len(device.tags))) if positions is None else positions
    found: Found = []
    for index, tag in enumerate(device.tags):
        found += [(("tags", pos[index], *path), msg) for path, msg in modicon_address(tag)]
    found += bus_warnings(device)  # bus fields on TCP, an unusual baud rate
    return found


def modicon_address(tag: ModbusTag) -> Found:
    """An address such as 40001 copied from a manual's 4x numbering (first register 40001)."""
    known = MODICON.get(tag.space)
    if known is None:
        return []
    first, prefix, called = known
    if not first <= tag.address <= first + 9998:
        return []
    message = (
        f"{tag.address} looks like Modicon {prefix} notation, where {called} {first} is "
        f"address 0: address is 0-based, so this is probably address: {tag.address - first}"
    )
    return [(("address",), message)]
