"""Polling and OperationLimits against a real asyncua server on 127.0.0.1 (port 0).

asyncua's server publishes OperationLimits but does not enforce them, so chunking is proved by
counting the Read requests the server receives; a stricter server (BadTooManyOperations above
a limit it may not even publish) is built by refusing larger Reads in the server itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from asyncua import Client, ua

from gateway.collectors.opcua.limits import OperationLimits, read_limits
from gateway.collectors.opcua.poll import ReadError, read_values
from gateway.collectors.opcua.status import quality_of
from gateway.collectors.opcua.values import converter, reader
from gateway.model import Quality
from tests.integration.opcua_typed_server import (
    ARRAY_LENGTH,
    SCALARS,
    WHEN,
    TypedServer,
    start_typed_server,
)

pytestmark = pytest.mark.integration
shared_loop = pytest.mark.asyncio(loop_scope="module")

EXPECTED = {  # what each scalar of the server is written as
    "boolean": True,
    "sbyte": -128,
    "int16": -32768,
    "int32": -(2**31),
    "int64": -(2**63),
    "byte": 255,
    "uint16": 65535,
    "uint32": 2**32 - 1,
    "uint64": 2**64 - 1,
    "float": 0.10000000149011612,  # the float32 nearest 0.1, exactly
    "double": 2.5e300,
    "string": "Potline 1, cell 01 = ok",
    "datetime": int(WHEN.timestamp() * 1000),
    "bytestring": "0001feff",
    "localizedtext": "Normal",
}


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
async def test_the_servers_operation_limits_are_read(typed: TypedServer, client: Client) -> None:
    typed.reads.clear()
    limits = await read_limits(client)
    assert limits.max_nodes_per_read == 5
    assert limits.max_nodes_per_translate_browse_paths_to_node_ids == 2
    assert limits.max_monitored_items_per_call == 0  # published as 0: no limit
    assert limits.max_nodes_per_browse == 10000  # asyncua's default
    assert typed.reads == [1, 5, 2]  # MaxNodesPerRead alone, then the others within it


@shared_loop
async def test_reads_are_chunked_to_max_nodes_per_read(typed: TypedServer, client: Client) -> None:
    names = [name for name in SCALARS] + [f"{name}_array" for name in SCALARS]
    limits = await read_limits(client)
    typed.reads.clear()
    values = await read_values(client, [typed.node(name) for name in names], limits)
    assert len(values) == len(names) == 30
    assert typed.reads == [5] * 6  # one Read per chunk, none above the limit
    for name, value in zip(names, values, strict=True):
        vtype = SCALARS[name.removesuffix("_array")][0]
        assert quality_of(value.StatusCode) == (Quality.GOOD, "")
        if name.endswith("_array"):
            result = converter(vtype, ARRAY_LENGTH)(value.Value)
            assert result == (EXPECTED[name.removesuffix("_array")],) * ARRAY_LENGTH
        else:
            assert converter(vtype)(value.Value) == EXPECTED[name]
        assert value.ServerTimestamp is not None
        assert value.SourceTimestamp is not None


@shared_loop
async def test_one_bad_node_is_one_bad_value_and_the_rest_keep_flowing(
    typed: TypedServer, client: Client
) -> None:
    nodes = [
        typed.node("double"),
        typed.node("bad"),
        ua.NodeId("NoSuchNode", typed.ns),
        typed.node("uncertain"),
        typed.node("int32"),
        ua.NodeId(123456, 0),
        typed.node("string"),
    ]
    values = await read_values(client, nodes, OperationLimits(max_nodes_per_read=5))
    assert [quality_of(value.StatusCode) for value in values] == [
        (Quality.GOOD, ""),
        (Quality.BAD, "BadSensorFailure"),
        (Quality.BAD, "BadNodeIdUnknown"),
        (Quality.UNCERTAIN, "UncertainLastUsableValue"),
        (Quality.GOOD, ""),
        (Quality.BAD, "BadNodeIdUnknown"),
        (Quality.GOOD, ""),
    ]
    read = reader(ua.VariantType.Double)
    assert read(values[1]) == (None, Quality.BAD, "BadSensorFailure")
    assert read(values[3]) == (1.5, Quality.UNCERTAIN, "UncertainLastUsableValue")
    assert values[0].Value is not None
    assert values[0].Value.Value == 2.5e300
    assert values[6].Value is not None
    assert values[6].Value.Value == EXPECTED["string"]


@shared_loop
async def test_no_limit_is_one_read(typed: TypedServer, client: Client) -> None:
    typed.reads.clear()
    nodes = [typed.node(name) for name in SCALARS]
    assert len(await read_values(client, nodes, OperationLimits())) == len(SCALARS)
    assert await read_values(client, [], OperationLimits()) == []
    assert typed.reads == [len(SCALARS)]


async def test_a_server_enforcing_an_unpublished_limit_is_read_in_smaller_chunks() -> None:
    strict = await start_typed_server(max_nodes_per_read=0, enforce_read_limit=4)
    try:
        async with Client(strict.endpoint) as client:
            limits = await read_limits(client)
            assert limits.max_nodes_per_read == 0
            nodes = [strict.node(name) for name in SCALARS]  # 15 nodes
            assert strict.reads == [1, 7, 1, 1, 1, 1, 1, 1, 1]  # the limits, one by one
            strict.reads.clear()
            values = await read_values(client, nodes, limits)
        assert [v.StatusCode.is_good() for v in values if v.StatusCode] == [True] * 15
        assert converter(ua.VariantType.UInt64)(values[8].Value) == 2**64 - 1
        # 15 refused, halves 7 and 8 refused, then 3, 4, 4, 4
        assert strict.reads == [15, 7, 3, 4, 8, 4, 4]
    finally:
        await strict.stop()


async def test_a_lost_connection_raises_read_error() -> None:
    server = await start_typed_server()
    client = Client(server.endpoint, timeout=5)
    await client.connect()
    try:
        await server.stop()
        with pytest.raises(ReadError, match="read failed"):
            await read_values(client, [server.node("double")], OperationLimits())
    finally:
        client.disconnect_socket()


async def test_a_closed_session_raises_read_error() -> None:
    server = await start_typed_server()
    try:
        async with Client(server.endpoint) as client:
            assert server.server.bserver is not None
            for protocol in list(server.server.bserver.clients):
                if protocol.processor is not None and protocol.processor.session is not None:
                    await protocol.processor.session.close_session()
            with pytest.raises(ReadError, match="read failed: BadSession") as caught:
                await read_values(client, [server.node("double")], OperationLimits())
            assert isinstance(caught.value.__cause__, ua.UaStatusCodeError)
    finally:
        await server.stop()
