"""Checks of a validated device that pydantic cannot express field by field.

Each finding is (path relative to the device, message), the path pointing at the exact field
to fix, e.g. `(("tags", 3, "bit"), "type bit needs bit: 0..15")`.

A device-level deadband applies to the numeric tags without their own. Its `percent` form
needs a span, so it applies only to tags with a `range` or `scale.eng`; tags without a span
are simply not deadbanded (that is not an error).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from gateway.collectors.modbus.types import DataType, Space, register_count
from gateway.config.durations import is_duration, parse_duration_ns
from gateway.config.linechecks import check_field_collisions, check_names
from gateway.config.models import Deadband, ModbusDevice, ModbusTag

Path = tuple[str | int, ...]
Found = list[tuple[Path, str]]

LAST_ADDRESS = 65535


def check_device(device: ModbusDevice, positions: Sequence[int] | None = None) -> Found:
    """Every problem of `device` that validation alone does not find.

    `positions[i]` is the index in the input of `device.tags[i]`, for a device checked without
    its invalid tags (paths and messages then name the input's indexes); default: i.
    """
    pos = list(range(len(device.tags))) if positions is None else positions
    found: Found = []
    found += _deadband_form(device.deadband, ("deadband",))
    found += _reserved(device.metadata, ("metadata",))
    for index, tag in enumerate(device.tags):
        found += [(("tags", pos[index], *path), msg) for path, msg in check_tag(tag, device)]
    found += _duplicate_names(device.tags, pos)
    found += _overlaps(device.tags, pos)
    found += _destinations(device, pos)
    found += check_names(device, pos)  # what line protocol cannot carry
    found += check_field_collisions(device, pos)  # `temp_quality` next to `temp`
    return found


def check_tag(tag: ModbusTag, device: ModbusDevice) -> Found:
    """Problems of one tag on its own (paths relative to the tag)."""
    return [
        *_type_fits_space(tag),
        *_bit(tag),
        *_length(tag, device),
        *_address(tag),
        *_scale(tag),
        *_deadband(tag),
        *_range(tag),
        *_scan(tag, device),
        *_reserved(tag.tags, ("tags",)),
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


def _scale(tag: ModbusTag) -> Found:
    scale = tag.scale
    if scale is None:
        return []
    if not tag.dtype.is_numeric:
        return [(("scale",), f"scale needs a numeric type, not {tag.dtype.value}")]
    found: Found = []
    if (scale.raw is None) != (scale.eng is None):
        given, absent = ("raw", "eng") if scale.raw is not None else ("eng", "raw")
        found.append((("scale", given), f"{given} needs {absent}: give both ranges or neither"))
    if scale.raw is not None and scale.raw[0] == scale.raw[1]:
        found.append((("scale", "raw"), "raw low and high must differ"))
    if scale.raw is not None or scale.eng is not None:
        for name, default in (("factor", 1.0), ("offset", 0.0)):
            if getattr(scale, name) != default:
                message = f"{name} cannot be combined with raw/eng: use one form or the other"
                found.append((("scale", name), message))
    elif scale.factor == 0:
        found.append((("scale", "factor"), "factor must not be zero"))
    return found


def _deadband_form(deadband: Deadband | None, path: Path) -> Found:
    if deadband is not None and (deadband.absolute is None) == (deadband.percent is None):
        return [(path, "give exactly one of absolute or percent")]
    return []


def _deadband(tag: ModbusTag) -> Found:
    deadband = tag.deadband
    if deadband is None:
        return []
    if not tag.dtype.is_numeric:
        return [(("deadband",), f"deadband needs a numeric type, not {tag.dtype.value}")]
    found = _deadband_form(deadband, ("deadband",))
    if not found and deadband.percent is not None and tag.span is None:
        found.append((("deadband", "percent"), "percent needs a span: set range or scale.eng"))
    return found


def _range(tag: ModbusTag) -> Found:
    if tag.range is None:
        return []
    if not tag.dtype.is_numeric:
        return [(("range",), f"range needs a numeric type, not {tag.dtype.value}")]
    low, high = tag.range
    if not low < high:
        return [(("range",), f"low must be less than high (got [{low:g}, {high:g}])")]
    return []


def _scan(tag: ModbusTag, device: ModbusDevice) -> Found:
    scan = tag.scan
    if scan is None or (isinstance(scan, str) and scan in device.scan_groups):
        return []
    if isinstance(scan, str) and not is_duration(scan):
        groups = ", ".join(device.scan_groups) or "none defined"
        message = f"{scan!r} is neither a duration (500ms, 2s, ...) nor a scan group of this "
        return [(("scan",), message + f"device (scan_groups: {groups})")]
    if parse_duration_ns(scan) <= 0:
        return [(("scan",), "scan rate must be greater than zero")]
    return []


def _reserved(mapping: Mapping[str, str], path: Path) -> Found:
    if "device" in mapping:
        message = "'device' is reserved: the gateway adds device=<device name> itself"
        return [((*path, "device"), message)]
    return []


def _duplicate_names(tags: list[ModbusTag], pos: Sequence[int]) -> Found:
    found: Found = []
    first: dict[str, int] = {}
    for index, tag in enumerate(tags):
        if tag.name in first:
            message = f"duplicate tag name {tag.name!r} (also tags[{pos[first[tag.name]]}])"
            found.append((("tags", pos[index], "name"), message))
        first.setdefault(tag.name, index)
    return found


def _overlaps(tags: list[ModbusTag], pos: Sequence[int]) -> Found:
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


def _destinations(device: ModbusDevice, pos: Sequence[int]) -> Found:
    """Two tags writing the same measurement, field and tag set overwrite each other."""
    found: Found = []
    first: dict[tuple[str, str, frozenset[tuple[str, str]]], int] = {}
    for index, tag in enumerate(device.tags):
        measurement = tag.measurement or device.measurement
        field = tag.field or tag.name
        key = (measurement, field, frozenset({**device.metadata, **tag.tags}.items()))
        earlier = first.setdefault(key, index)
        if earlier != index and device.tags[earlier].name != tag.name:
            message = (
                f"tag {device.tags[earlier].name!r} (tags[{pos[earlier]}]) already writes "
                f"measurement {measurement!r}, field {field!r} with the same tags"
            )
            found.append((("tags", pos[index], "field"), message))
    return found
