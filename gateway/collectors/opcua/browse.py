"""Walk a server's address space and describe the variables found (for `gateway browse`).

Every service call respects the server's OperationLimits (see browsecalls)."""

from __future__ import annotations

from dataclasses import dataclass

from asyncua import Client, ua

from gateway.collectors.opcua.browsecalls import (
    BatchedCalls,
    Limits,
    local,
    std,
    text,
    value_of,
)
from gateway.collectors.opcua.browsetypes import (
    METADATA,
    enum_names,
    read_metadata,
    resolve_data_types,
)
from gateway.collectors.opcua.limits import read_limits

_IDS = ua.ObjectIds
_HAS_PROPERTY = std(_IDS.HasProperty)
_SERVER = std(_IDS.Server)  # diagnostics and capabilities, never plant data
_ATTRIBUTES = (  # read per variable; DisplayName and NodeClass come with the browse result
    ua.AttributeIds.Description,
    ua.AttributeIds.DataType,
    ua.AttributeIds.ValueRank,
    ua.AttributeIds.ArrayDimensions,
    ua.AttributeIds.AccessLevel,
    ua.AttributeIds.UserAccessLevel,
)


@dataclass(frozen=True, slots=True)
class FoundVariable:
    """One Variable node found by `browse_variables`."""

    node_id: ua.NodeId
    path: tuple[str, ...]  # browse names from the start node (excluded) down to this variable
    display_name: str
    description: str
    data_type: ua.NodeId  # as declared, e.g. UtcTime or an enumeration type
    data_type_name: str  # its browse name, e.g. "UtcTime", "CellState"
    variant_type: ua.VariantType | None  # the built-in type on the wire; None: not resolvable
    is_enum: bool  # an Enumeration subtype (served as Int32)
    enum_strings: tuple[str, ...]  # EnumStrings (index = value), or EnumValues as "value=name"
    value_rank: int  # -1 scalar, 1.. array dimensions, 0/-2/-3 see Part 3
    array_dimensions: tuple[int, ...]
    readable: bool  # CurrentRead in UserAccessLevel (AccessLevel if the server lacks it)
    writable: bool
    unit: str  # EngineeringUnits DisplayName, "" when none
    eu_range: tuple[float, float] | None  # EURange (Low, High)

    @property
    def browse_path(self) -> str:
        """`Plant/Potline1/Cell01/bath_temp`."""
        return "/".join(self.path)


@dataclass(slots=True)
class _Var:
    node: ua.NodeId
    path: tuple[str, ...]
    display_name: str
    metadata: dict[str, ua.NodeId]  # property browse name -> property node


async def browse_variables(
    client: Client, start: ua.NodeId | None = None, depth: int = 10, limits: Limits | None = None
) -> list[FoundVariable]:
    """Every Variable below `start` (default: the Objects folder, without the standard Server
    object) down to `depth` levels (1 = the start node's children), in breadth-first order.

    Hierarchical references are followed (Organizes, HasComponent, ...) except HasProperty:
    properties (EngineeringUnits, EURange, EnumStrings, ...) describe their variable, they are
    not variables of their own. A node reached twice is reported once, by its first path.
    `limits` default: read from the server. A start node the server does not know raises
    ua.UaStatusCodeError (e.g. BadNodeIdUnknown)."""
    session = BatchedCalls(client, limits if limits is not None else await read_limits(client))
    root = start if start is not None else std(_IDS.ObjectsFolder)
    head = await session.read(
        [(root, ua.AttributeIds.NodeClass), (root, ua.AttributeIds.DisplayName)]
    )
    if head[0].StatusCode is not None:
        head[0].StatusCode.check()  # an unknown start node: BadNodeIdUnknown
    found: list[_Var] = []
    if head[0].Value is not None and head[0].Value.Value == ua.NodeClass.Variable:
        name = text(head[1].Value.Value if head[1].Value is not None else None)
        found.append(_Var(root, (), name, {}))
    seen = {root}
    level: list[tuple[ua.NodeId, tuple[str, ...], _Var | None]] = [
        (root, (), found[0] if found else None)
    ]
    for current in range(depth + 1):
        if current == depth:  # the last level is browsed only for its variables' properties
            level = [entry for entry in level if entry[2] is not None]
        refs = await session.browse([node for node, _, _ in level], _IDS.HierarchicalReferences)
        below: list[tuple[ua.NodeId, tuple[str, ...], _Var | None]] = []
        for (_, path, var), node_refs in zip(level, refs, strict=True):
            for ref in node_refs:
                child = local(ref.NodeId)
                if ref.ReferenceTypeId == _HAS_PROPERTY:
                    if var is not None and ref.BrowseName.Name in METADATA:
                        var.metadata.setdefault(ref.BrowseName.Name, child)
                    continue
                remote = getattr(ref.NodeId, "ServerIndex", None)  # another server's node
                if current == depth or remote or child in seen or child == _SERVER:
                    continue
                seen.add(child)
                child_path = (*path, ref.BrowseName.Name)
                child_var = None
                if ref.NodeClass == ua.NodeClass.Variable:
                    child_var = _Var(child, child_path, text(ref.DisplayName), {})
                    found.append(child_var)
                below.append((child, child_path, child_var))
        level = below
        if not level:
            break
    return await _describe(session, found)


async def _describe(session: BatchedCalls, found: list[_Var]) -> list[FoundVariable]:
    """Read the attributes, the metadata properties and the data types of the variables."""
    attrs = await session.read([(v.node, a) for v in found for a in _ATTRIBUTES])
    per_var = [attrs[i : i + len(_ATTRIBUTES)] for i in range(0, len(attrs), len(_ATTRIBUTES))]
    meta = await read_metadata(session, [v.metadata for v in found])
    types = await resolve_data_types(session, {value_of(a[1]) for a in per_var} - {None})
    out = []
    for var, (desc, dtype, rank, dims, access, user_access), props in zip(
        found, per_var, meta, strict=True
    ):
        data_type = value_of(dtype) if isinstance(value_of(dtype), ua.NodeId) else ua.NodeId()
        name, vtype, is_enum, type_enums = types.get(data_type, ("", None, False, ()))
        level = value_of(user_access)
        level = value_of(access) if not isinstance(level, int) else level
        level = level if isinstance(level, int) else 0
        eu = props.get("EngineeringUnits")
        span = props.get("EURange")
        rank_value = value_of(rank)
        out.append(
            FoundVariable(
                node_id=var.node,
                path=var.path,
                display_name=var.display_name,
                description=text(value_of(desc)),
                data_type=data_type,
                data_type_name=name,
                variant_type=vtype,
                is_enum=is_enum,
                enum_strings=enum_names(props) or type_enums,
                value_rank=rank_value if isinstance(rank_value, int) else -1,
                array_dimensions=tuple(value_of(dims) or ()),
                readable=bool(level & ua.AccessLevel.CurrentRead.mask),
                writable=bool(level & ua.AccessLevel.CurrentWrite.mask),
                unit=text(eu.DisplayName) if isinstance(eu, ua.EUInformation) else "",
                eu_range=(float(span.Low), float(span.High))
                if isinstance(span, ua.Range)
                else None,
            )
        )
    return out
