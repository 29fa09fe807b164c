"""Address-space construction for the OPC UA PLC: variant types, engineering units,
enumeration names, variables with their properties, and methods."""

from __future__ import annotations

import enum
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from asyncua import Node, ua

from simulators import catalog
from simulators.catalog import Kind, TagDef


def nid(ident: str | int, ns: int = 0) -> ua.NodeId:
    """nid(ident, ns); asyncua annotates NodeId's fields with its own int/str subclasses."""
    return ua.NodeId(cast(Any, ident), cast(Any, ns))


def status_of(code: int) -> ua.StatusCode:
    return ua.StatusCode(ua.UInt32(code))


VARIANT = {
    Kind.FLOAT: ua.VariantType.Double,
    Kind.INT: ua.VariantType.UInt32,  # every catalog INT is a counter; wraps at 2**32
    Kind.BOOL: ua.VariantType.Boolean,
    Kind.ENUM: ua.VariantType.Int32,
    Kind.BITS: ua.VariantType.UInt16,
    Kind.TEXT: ua.VariantType.String,
}


def encode(kind: Kind, value: object) -> object:
    """A plant value as the Python value of the tag's variant type."""
    if kind is Kind.FLOAT:
        return float(value)  # type: ignore[arg-type]
    if kind is Kind.INT:
        return int(value) % 2**32  # type: ignore[call-overload]  # counter roll-over
    if kind is Kind.BOOL:
        return bool(value)
    if kind is Kind.BITS:
        return int(value) & 0xFFFF  # type: ignore[call-overload]
    if kind is Kind.ENUM:
        return int(value)  # type: ignore[call-overload]
    return str(value)


def sample_time(tag: TagDef, values: Mapping[str, object]) -> datetime | None:
    """The source timestamp of a value that carries its own sample time (the lab analyses:
    when the sample was taken, not when the result was published); None for the others."""
    if not tag.stamp:
        return None
    return datetime.fromtimestamp(int(values[tag.stamp]), UTC)  # type: ignore[call-overload]


def same_value(old: object, new: object) -> bool:
    both_nan = (
        isinstance(old, float) and isinstance(new, float) and math.isnan(old) and math.isnan(new)
    )
    return both_nan or old == new


UNITS_NAMESPACE = "http://www.opcfoundation.org/UA/units/un/cefact"
_UNECE = {  # catalog unit -> (UN/CEFACT common code, description); "" = no code (UnitId -1)
    "V": ("VLT", "volt"),
    "A": ("AMP", "ampere"),
    "kA": ("B22", "kiloampere"),
    "degC": ("CEL", "degree Celsius"),
    "mOhm": ("", "milliohm"),
    "wt%": ("60", "percent weight"),
    "%": ("P1", "percent"),
    "cm": ("CMT", "centimetre"),
    "kg": ("KGM", "kilogram"),
    "kg/h": ("E93", "kilogram per hour"),
    "ppm": ("59", "part per million"),
    "kW": ("KWT", "kilowatt"),
    "kWh": ("KWH", "kilowatt hour"),
    "m3/h": ("MQH", "cubic metre per hour"),
    "h": ("HUR", "hour"),
    "Nm3/h": ("", "normal cubic metre per hour"),
    "vol%": ("", "percent by volume"),
    "mm": ("MMT", "millimetre"),
    "s": ("SEC", "second"),
}
_PERCENT = {"%", "wt%", "vol%"}  # units that imply EURange 0..100


def eu_information(unit: str) -> ua.EUInformation:
    """EUInformation for a catalog unit: DisplayName = the unit text, UnitId = the UN/CEFACT
    code packed as OPC UA Part 8 says (-1 when the unit has no code here)."""
    code, description = _UNECE.get(unit, ("", unit))
    unit_id = -1 if not code else 0
    for char in code:
        unit_id = unit_id << 8 | ord(char)
    return ua.EUInformation(
        NamespaceUri=UNITS_NAMESPACE,
        UnitId=unit_id,
        DisplayName=ua.LocalizedText(unit),
        Description=ua.LocalizedText(description),
    )


def value_names(tag: TagDef) -> dict[int, str]:
    """Value -> name of an ENUM tag, bit number -> name of a BITS tag (from the catalog class
    named by the tag's description, e.g. "CellState" or "CellAlarm bits")."""
    words = tag.description.split()
    cls = getattr(catalog, words[0], None) if words else None
    if tag.kind is Kind.ENUM and isinstance(cls, type) and issubclass(cls, enum.IntEnum):
        return {int(member): member.name for member in cls}
    if tag.kind is Kind.BITS and isinstance(cls, type) and issubclass(cls, enum.IntFlag):
        return {int(member).bit_length() - 1: str(member.name) for member in cls}
    return {}


def _description(tag: TagDef) -> str:
    names = value_names(tag)
    prefix = "bit" if tag.kind is Kind.BITS else ""
    listed = ", ".join(f"{prefix}{number}={name}" for number, name in sorted(names.items()))
    return f"{tag.description}: {listed}" if listed else tag.description


async def add_variable(parent: Node, ident: str, ns: int, tag: TagDef, value: ua.Variant) -> None:
    datatype = nid(value.VariantType.value)  # the builtin types used here: same number
    var = await parent.add_variable(
        nid(ident, ns), ua.QualifiedName(tag.name, ns), value, datatype=datatype
    )
    text = ua.Variant(ua.LocalizedText(_description(tag)), ua.VariantType.LocalizedText)
    await var.write_attribute(ua.AttributeIds.Description, ua.DataValue(text))
    if tag.writable:
        await var.set_writable()
    properties: list[tuple[str, object, ua.VariantType, int]] = []
    if tag.unit:
        properties.append(
            ("EngineeringUnits", eu_information(tag.unit), _EXT, ua.ObjectIds.EUInformation)
        )
    if tag.unit in _PERCENT:
        properties.append(("EURange", ua.Range(Low=0.0, High=100.0), _EXT, ua.ObjectIds.Range))
    names = value_names(tag) if tag.kind is Kind.ENUM else {}
    if names and sorted(names) == list(range(len(names))):
        strings = [ua.LocalizedText(names[i]) for i in range(len(names))]
        properties.append(
            ("EnumStrings", strings, ua.VariantType.LocalizedText, ua.ObjectIds.LocalizedText)
        )
    for name, prop_value, vtype, prop_type in properties:
        await var.add_property(
            nid(f"{ident}.{name}", ns),
            ua.QualifiedName(name, 0),
            prop_value,
            vtype,
            prop_type,
        )


_EXT = ua.VariantType.ExtensionObject


async def add_method(
    parent: Node,
    ident: str,
    ns: int,
    call: Callable[..., Awaitable[Any]],
    args: Sequence[tuple[str, str]] = (),
) -> None:
    """Method `ident` (its browse name: the last part) with String input arguments `args`."""
    inputs = [
        ua.Argument(
            Name=arg,
            DataType=nid(ua.ObjectIds.String),
            ValueRank=-1,
            Description=ua.LocalizedText(text),
        )
        for arg, text in args
    ]
    name = ident.rsplit(".", 1)[-1]
    await parent.add_method(nid(ident, ns), ua.QualifiedName(name, ns), call, inputs, [])
