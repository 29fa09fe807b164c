"""What a node's values are, from DataType, ValueRank and ArrayDimensions (start and browse).

A DataType is a NodeId in the server's type hierarchy. The builtin ones (ns=0, i=1..25) are
their VariantType; the usual subtypes of namespace 0 (UtcTime, Duration, LocaleId, ...) are
known here without a round trip; any other (a vendor's or an enumeration) is followed up its
HasSubtype chain on the server to a builtin type. A subtype of Enumeration (i=29) travels as
Int32 (its names, EnumStrings or EnumValues, are for the browse). The abstract types
(BaseDataType, Number, Integer, UInteger) say nothing of the encoding: then the VariantType of
the value read at start is taken (documented fallback), and a node without a value is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asyncua import Client, ua
from asyncua.common.ua_utils import get_base_data_type

from gateway.collectors.opcua.limits import OperationLimits
from gateway.collectors.opcua.poll import read
from gateway.collectors.opcua.status import status_name
from gateway.collectors.opcua.values import FieldKind, UnsupportedType, field_kind

VT = ua.VariantType
_ENUMERATION = 29
_ABSTRACT = frozenset({24, 26, 27, 28})  # BaseDataType, Number, Integer, UInteger
_KNOWN_SUBTYPES = {  # ns=0 subtypes -> the builtin type they travel as
    288: VT.UInt32,  # IntegerId
    289: VT.UInt32,  # Counter
    290: VT.Double,  # Duration
    291: VT.String,  # NumericRange
    292: VT.String,  # Time
    293: VT.DateTime,  # Date
    294: VT.DateTime,  # UtcTime
    295: VT.String,  # LocaleId
    311: VT.ByteString,  # ApplicationInstanceCertificate
    12877: VT.String,  # NormalizedString
    12878: VT.String,  # DecimalString
    12879: VT.String,  # DurationString
    12880: VT.String,  # TimeString
    12881: VT.String,  # DateString
    17588: VT.UInt32,  # Index
    30: VT.ByteString,  # Image
}


@dataclass(frozen=True, slots=True)
class DataTypeInfo:
    """How values of a DataType travel: VariantType (Variant for an abstract type), and whether
    it is an enumeration (written as its Int32 value)."""

    variant_type: ua.VariantType
    enumeration: bool = False


@dataclass(frozen=True, slots=True)
class NodeType:
    """What a variable node gives: its VariantType, FieldKind, and array length (None: scalar)."""

    variant_type: ua.VariantType
    kind: FieldKind
    array_length: int | None
    enumeration: bool = False


def _builtin(data_type: ua.NodeId) -> DataTypeInfo | None:
    ident = data_type.Identifier
    if data_type.NamespaceIndex != 0 or not isinstance(ident, int):
        return None
    if 1 <= ident <= 25:
        return DataTypeInfo(VT(ident))
    if ident == _ENUMERATION:
        return DataTypeInfo(VT.Int32, enumeration=True)
    if ident in _ABSTRACT:
        return DataTypeInfo(VT.Variant)
    known = _KNOWN_SUBTYPES.get(ident)
    return DataTypeInfo(known) if known else None


async def data_type_info(
    client: Client, data_type: ua.NodeId, cache: dict[ua.NodeId, DataTypeInfo] | None = None
) -> DataTypeInfo:
    """How values of `data_type` travel; `cache` (one per session) saves the walks up the
    hierarchy. Raises UnsupportedType when the server's hierarchy leads to no builtin type."""
    found = _builtin(data_type)
    if found is not None:
        return found
    if cache is not None and data_type in cache:
        return cache[data_type]
    try:
        base = (await get_base_data_type(client.get_node(data_type))).nodeid
    except ua.UaError as error:
        raise UnsupportedType(
            f"data type {data_type.to_string()} leads to no builtin type on the server"
        ) from error
    found = _builtin(base) or DataTypeInfo(VT.ExtensionObject)  # Structure (22) and the like
    if cache is not None:
        cache[data_type] = found
    return found


_ATTRIBUTES = (
    ua.AttributeIds.DataType,
    ua.AttributeIds.ValueRank,
    ua.AttributeIds.ArrayDimensions,
    ua.AttributeIds.Value,
)


async def node_types(
    client: Client,
    node_ids: Sequence[ua.NodeId],
    limits: OperationLimits,
    cache: dict[ua.NodeId, DataTypeInfo] | None = None,
) -> list[NodeType | UnsupportedType]:
    """The NodeType of each variable, or the UnsupportedType error saying why it cannot be
    written (unknown node, unsupported or abstract type without value, multi-dimensional)."""
    items = []
    for node_id in node_ids:
        for attribute in _ATTRIBUTES:
            item = ua.ReadValueId()
            item.NodeId = node_id
            item.AttributeId = attribute
            items.append(item)
    values = await read(client, items, limits, ua.TimestampsToReturn.Neither)
    cache = {} if cache is None else cache
    out: list[NodeType | UnsupportedType] = []
    for index in range(len(node_ids)):
        dtype, rank, dims, value = values[4 * index : 4 * index + 4]
        try:
            out.append(await _node_type(client, dtype, rank, dims, value, cache))
        except UnsupportedType as error:
            out.append(error)
    return out


async def _node_type(
    client: Client,
    dtype: ua.DataValue,
    rank: ua.DataValue,
    dims: ua.DataValue,
    value: ua.DataValue,
    cache: dict[ua.NodeId, DataTypeInfo],
) -> NodeType:
    for attribute in (dtype, rank):
        if attribute.StatusCode is not None and not attribute.StatusCode.is_good():
            status = status_name(attribute.StatusCode.value)
            raise UnsupportedType(f"not a readable variable ({status})")
    data_type = dtype.Value.Value if dtype.Value is not None else None
    if not isinstance(data_type, ua.NodeId):
        raise UnsupportedType("not a variable (no DataType)")
    info = await data_type_info(client, data_type, cache)
    variant = value.Value if value.StatusCode is None or value.StatusCode.is_good() else None
    vtype = info.variant_type
    if vtype is VT.Variant:
        if variant is None or variant.VariantType is VT.Null:
            raise UnsupportedType(
                f"data type {data_type.to_string()} is abstract and the node has no value"
                " to tell how its values travel"
            )
        vtype = variant.VariantType
    kind = field_kind(vtype)
    dimensions = dims.Value.Value if dims.Value is not None else None
    length = _array_length(rank.Value.Value if rank.Value else None, dimensions, variant)
    return NodeType(vtype, kind, length, info.enumeration)


def _array_length(rank: object, dimensions: object, variant: ua.Variant | None) -> int | None:
    if rank == -1:
        return None
    several = isinstance(dimensions, list) and len(dimensions) > 1
    if (isinstance(rank, int) and rank >= 2) or several:
        raise UnsupportedType("multi-dimensional arrays are not supported")
    if rank == 1 and isinstance(dimensions, list) and dimensions and dimensions[0] > 0:
        return int(dimensions[0])
    # the server leaves it open (ValueRank -3, -2, 0, or ArrayDimensions 0): the value decides
    if variant is not None and variant.is_array:
        if variant.Dimensions and len(variant.Dimensions) > 1:
            raise UnsupportedType("multi-dimensional arrays are not supported")
        return len(variant.Value)
    if rank == 1:
        raise UnsupportedType("array of unknown length (no ArrayDimensions and no value)")
    return None
