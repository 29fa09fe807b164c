"""What each node gives (type, kind, array length), read from a real asyncua server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, ua

from gateway.collectors.opcua.datatypes import DataTypeInfo, NodeType, data_type_info, node_types
from gateway.collectors.opcua.limits import read_limits
from gateway.collectors.opcua.values import FieldKind, UnsupportedType
from tests.integration.opcua_typed_server import (
    ARRAY_LENGTH,
    SCALARS,
    TypedServer,
    start_typed_server,
)

pytestmark = pytest.mark.integration
shared_loop = pytest.mark.asyncio(loop_scope="module")
VT = ua.VariantType
KIND = {VT.Boolean: FieldKind.BOOL, VT.UInt64: FieldKind.UINT64, VT.Float: FieldKind.FLOAT}
KIND |= {VT.Double: FieldKind.FLOAT, VT.String: FieldKind.STRING, VT.ByteString: FieldKind.STRING}
KIND |= {VT.LocalizedText: FieldKind.STRING}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def typed() -> AsyncIterator[TypedServer]:
    server = await start_typed_server(max_nodes_per_read=5)
    yield server
    await server.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def client(typed: TypedServer) -> AsyncIterator[Client]:
    async with Client(typed.endpoint) as connected:
        yield connected


@shared_loop
async def test_every_supported_type_scalar_and_array(typed: TypedServer, client: Client) -> None:
    names = [*SCALARS, *(f"{name}_array" for name in SCALARS)]
    limits = await read_limits(client)
    typed.reads.clear()
    found = await node_types(client, [typed.node(name) for name in names], limits)
    assert max(typed.reads) <= 5  # four attributes per node, chunked as any Read
    for name, result in zip(names, found, strict=True):
        vtype = SCALARS[name.removesuffix("_array")][0]
        length = ARRAY_LENGTH if name.endswith("_array") else None
        assert result == NodeType(vtype, KIND.get(vtype, FieldKind.INT), length), name


@shared_loop
async def test_subtypes_enumerations_and_open_arrays(typed: TypedServer, client: Client) -> None:
    names = ["enum", "utctime", "duration", "abstract", "open_array"]
    found = await node_types(
        client, [typed.node(name) for name in names], await read_limits(client)
    )
    assert found == [
        NodeType(VT.Int32, FieldKind.INT, None, enumeration=True),  # ServerState, walked up
        NodeType(VT.DateTime, FieldKind.INT, None),
        NodeType(VT.Double, FieldKind.FLOAT, None),
        NodeType(VT.Int16, FieldKind.INT, None),  # abstract Number: the value tells
        NodeType(VT.Double, FieldKind.FLOAT, 2),  # ArrayDimensions [0]: the value's length
    ]


@shared_loop
async def test_what_cannot_be_written_is_a_clear_error(typed: TypedServer, client: Client) -> None:
    nodes = [typed.node("structure"), typed.node("matrix"), ua.NodeId("Nope", typed.ns)]
    found = await node_types(client, [*nodes, typed.node("Plant")], await read_limits(client))
    assert all(isinstance(result, UnsupportedType) for result in found)
    assert str(found[0]).startswith("unsupported type ExtensionObject")
    assert str(found[1]) == "multi-dimensional arrays are not supported"
    assert str(found[2]) == "not a readable variable (BadNodeIdUnknown)"
    assert str(found[3]) == "not a readable variable (BadNodeIdUnknown)"


@shared_loop
async def test_data_type_info_walks_the_servers_hierarchy_once(client: Client) -> None:
    cache: dict[ua.NodeId, DataTypeInfo] = {}
    server_state = ua.NodeId(ua.ObjectIds.ServerState)
    info = await data_type_info(client, server_state, cache)
    assert info == DataTypeInfo(VT.Int32, enumeration=True)
    assert cache == {server_state: info}
    assert await data_type_info(client, ua.NodeId(ua.ObjectIds.UtcTime)) == DataTypeInfo(
        VT.DateTime
    )
    range_type = ua.NodeId(ua.ObjectIds.Range)
    assert await data_type_info(client, range_type) == DataTypeInfo(VT.ExtensionObject)
    with pytest.raises(UnsupportedType, match="data type i=99999 leads to no builtin type"):
        await data_type_info(client, ua.NodeId(99999, 0))
