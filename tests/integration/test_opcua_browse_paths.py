"""Browse paths and nsu= node ids resolved against real asyncua servers (port 0)."""

from __future__ import annotations

import pytest
from asyncua import Client, ua

from gateway.collectors.opcua.limits import read_limits
from gateway.collectors.opcua.nodeids import (
    BrowsePathError,
    format_nsu,
    parse_browse_path,
    parse_node_id,
    resolve,
    resolve_browse_paths,
)
from gateway.collectors.opcua.poll import read_values
from tests.integration.opcua_typed_server import URI, start_typed_server

pytestmark = pytest.mark.integration


async def test_browse_paths_resolve_in_calls_within_the_servers_limit() -> None:
    typed = await start_typed_server(max_translate=2)
    try:
        async with Client(typed.endpoint) as client:
            limits = await read_limits(client)
            texts = [
                "Plant/Typed/double",
                f"/{typed.ns}:Plant/Typed/uint64",
                "Plant/Typed/no_such_tag",
                "Plant/Typed/by_guid",
                "0:Plant/Typed/double",  # Plant is not in namespace 0
            ]
            found = await resolve_browse_paths(
                client,
                [parse_browse_path(text) for text in texts],
                default_namespace=typed.ns,
                max_per_call=limits.max_nodes_per_translate_browse_paths_to_node_ids,
            )
    finally:
        await typed.stop()
    assert typed.translates == [2, 2, 1]
    assert found[0] == typed.node("double")
    assert found[1] == typed.node("uint64")
    assert found[2] == BrowsePathError("Plant/Typed/no_such_tag", "BadNoMatch")
    assert (
        str(found[2])
        == "browse path 'Plant/Typed/no_such_tag' not found on the server (BadNoMatch)"
    )
    assert isinstance(found[3], ua.NodeId)
    assert found[3].NodeIdType == ua.NodeIdType.Guid
    assert isinstance(found[4], BrowsePathError)


async def test_nsu_node_ids_survive_reordered_namespaces() -> None:
    """The same tag-map text reads the same node when the server's namespaces move."""
    texts = {}
    values = []
    for reorder in (False, True):
        typed = await start_typed_server(reorder=reorder)
        try:
            async with Client(typed.endpoint) as client:
                namespaces = await client.get_namespace_array()
                assert namespaces.index(URI) == typed.ns
                for name in ("double", "by_guid", "by_bytes", "by_number"):
                    node_id = (
                        await resolve_browse_paths(
                            client,
                            [parse_browse_path(f"Plant/Typed/{name}")],
                            default_namespace=typed.ns,
                        )
                    )[0]
                    assert isinstance(node_id, ua.NodeId)
                    text = format_nsu(node_id, namespaces)
                    assert text == texts.setdefault(name, text)  # the same text both times
                nodes = [resolve(parse_node_id(text), namespaces) for text in texts.values()]
                read = await read_values(client, nodes, await read_limits(client))
                values.append([value.Value.Value for value in read if value.Value is not None])
        finally:
            await typed.stop()
    assert texts["double"] == f"nsu={URI};s=Typed.double"
    assert texts["by_bytes"] == f"nsu={URI};b=AQI="
    assert values[0] == values[1] == [2.5e300, 42, 7.0, 9001]
