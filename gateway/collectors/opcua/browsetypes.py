"""Data types and metadata of the variables browse finds: a DataType resolved to its built-in
type through the HasSubtype hierarchy, and the properties that describe a variable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asyncua import ua

from gateway.collectors.opcua.browsecalls import BatchedCalls, local, std, text, value_of

_IDS = ua.ObjectIds
_ENUMERATION = std(_IDS.Enumeration)
#: the properties read as metadata of their variable (or of an enumeration type)
METADATA = ("EngineeringUnits", "EURange", "EnumStrings", "EnumValues")


async def read_metadata(
    session: BatchedCalls, props: Sequence[dict[str, ua.NodeId]]
) -> list[dict[str, Any]]:
    """The values of the metadata properties, per owner."""
    wanted = [(i, name, node) for i, owned in enumerate(props) for name, node in owned.items()]
    values = await session.read([(node, ua.AttributeIds.Value) for _, _, node in wanted])
    out: list[dict[str, Any]] = [{} for _ in props]
    for (i, name, _), dv in zip(wanted, values, strict=True):
        value = value_of(dv)
        if value is not None:
            out[i][name] = value
    return out


def enum_names(props: dict[str, Any]) -> tuple[str, ...]:
    strings = props.get("EnumStrings")
    if isinstance(strings, list):
        return tuple(text(s) for s in strings)
    values = props.get("EnumValues")  # EnumValueType: value, display name
    if isinstance(values, list):
        return tuple(f"{v.Value}={text(v.DisplayName)}" for v in values if hasattr(v, "Value"))
    return ()


async def _enum_type_names(session: BatchedCalls, enums: list[ua.NodeId]) -> list[tuple[str, ...]]:
    """Names of enumeration types: EnumStrings or EnumValues properties (Part 3), else the
    EnumDefinition in DataTypeDefinition (1.04 servers, asyncua's new_enum)."""
    refs = await session.browse(enums, _IDS.HasProperty)
    owned = [
        {r.BrowseName.Name: local(r.NodeId) for r in node_refs if r.BrowseName.Name in METADATA}
        for node_refs in refs
    ]
    props = await read_metadata(session, owned)
    definitions = await session.read([(n, ua.AttributeIds.DataTypeDefinition) for n in enums])
    out = []
    for found, definition in zip(props, definitions, strict=True):
        names = enum_names(found)
        fields = getattr(value_of(definition), "Fields", None)
        if not names and isinstance(fields, list):
            names = tuple(f"{f.Value}={f.Name}" for f in fields)
        out.append(names)
    return out


_TypeInfo = tuple[str, ua.VariantType | None, bool, tuple[str, ...]]
_BUILTIN_MAX = 25  # ns=0;i=1 (Boolean) .. i=25 (DiagnosticInfo) are the built-in types


async def resolve_data_types(
    session: BatchedCalls, data_types: set[ua.NodeId]
) -> dict[ua.NodeId, _TypeInfo]:
    """Per DataType node: (browse name, built-in VariantType or None, is an enumeration,
    enumeration names from the type's own EnumStrings/EnumValues). Subtypes are followed up
    the HasSubtype hierarchy to their built-in type (UtcTime -> DateTime); enumerations are
    Int32; abstract types (BaseDataType, Number, ...) and structures resolve to None."""
    todo = sorted(data_types, key=lambda n: n.to_string())
    names = await session.read([(n, ua.AttributeIds.BrowseName) for n in todo])
    parent_of: dict[ua.NodeId, ua.NodeId | None] = {}
    frontier = [n for n in todo if _builtin(n) is None]
    while frontier:  # one batched inverse browse per level of the type hierarchy
        refs = await session.browse(frontier, _IDS.HasSubtype, inverse=True)
        step = []
        for node, node_refs in zip(frontier, refs, strict=True):
            parent = local(node_refs[0].NodeId) if node_refs else None
            parent_of[node] = parent
            if (
                parent is not None
                and parent not in parent_of
                and _builtin(parent) is None
                and parent != _ENUMERATION
            ):
                step.append(parent)
        frontier = sorted(set(step), key=lambda n: n.to_string())
    enums = [n for n in todo if _resolve(n, parent_of)[1]]
    names_of = dict(zip(enums, await _enum_type_names(session, enums), strict=True))
    out: dict[ua.NodeId, _TypeInfo] = {}
    for node, name in zip(todo, names, strict=True):
        qualified = value_of(name)
        vtype, is_enum = _resolve(node, parent_of)
        label = qualified.Name if isinstance(qualified, ua.QualifiedName) else node.to_string()
        out[node] = (label, vtype, is_enum, names_of.get(node, ()))
    return out


def _builtin(node: ua.NodeId) -> ua.VariantType | None:
    ident = node.Identifier
    if node.NamespaceIndex == 0 and isinstance(ident, int) and 1 <= ident <= _BUILTIN_MAX:
        return ua.VariantType(ident)
    return None


def _resolve(
    node: ua.NodeId, parent_of: dict[ua.NodeId, ua.NodeId | None]
) -> tuple[ua.VariantType | None, bool]:
    seen: set[ua.NodeId] = set()
    current: ua.NodeId | None = node
    while current is not None and current not in seen:
        if current == _ENUMERATION:
            return ua.VariantType.Int32, True
        builtin = _builtin(current)
        if builtin is not None:
            abstract = builtin in (ua.VariantType.ExtensionObject, ua.VariantType.Variant)
            return (None if abstract else builtin), False
        seen.add(current)
        current = parent_of.get(current)
    return None, False
