"""The server's OperationLimits, read once per session, and a chunking helper.

A limit the server does not publish (node absent, Bad status, not an integer) or publishes
as 0 means "no limit" and is stored as 0. MaxNodesPerRead is read alone first, so that the
read of the other limits itself respects it (one at a time if the server refuses even that).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from asyncua import Client, ua

T = TypeVar("T")

_PREFIX = "Server_ServerCapabilities_OperationLimits_"


@dataclass(frozen=True, slots=True)
class OperationLimits:
    """Per-call limits of a server (0 = no limit). Field names follow the OPC UA ones."""

    max_nodes_per_read: int = 0
    max_nodes_per_write: int = 0
    max_nodes_per_browse: int = 0
    max_nodes_per_translate_browse_paths_to_node_ids: int = 0
    max_monitored_items_per_call: int = 0
    max_nodes_per_register_nodes: int = 0
    max_nodes_per_method_call: int = 0
    max_nodes_per_node_management: int = 0


_OPC_NAMES = {  # field -> the OPC UA name of the limit's node under OperationLimits
    "max_nodes_per_read": "MaxNodesPerRead",
    "max_nodes_per_write": "MaxNodesPerWrite",
    "max_nodes_per_browse": "MaxNodesPerBrowse",
    "max_nodes_per_translate_browse_paths_to_node_ids": "MaxNodesPerTranslateBrowsePathsToNodeIds",
    "max_monitored_items_per_call": "MaxMonitoredItemsPerCall",
    "max_nodes_per_register_nodes": "MaxNodesPerRegisterNodes",
    "max_nodes_per_method_call": "MaxNodesPerMethodCall",
    "max_nodes_per_node_management": "MaxNodesPerNodeManagement",
}
_NODES = {f: ua.NodeId(getattr(ua.ObjectIds, _PREFIX + n)) for f, n in _OPC_NAMES.items()}


def _as_limit(value: ua.DataValue) -> int:
    status = value.StatusCode
    if status is not None and not status.is_good():
        return 0
    raw = value.Value.Value if value.Value is not None else None
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw > 0 else 0


async def _read(client: Client, node_ids: Sequence[ua.NodeId]) -> list[ua.DataValue]:
    params = ua.ReadParameters()
    for node_id in node_ids:
        item = ua.ReadValueId()
        item.NodeId = node_id
        item.AttributeId = ua.AttributeIds.Value
        params.NodesToRead.append(item)
    return await client.uaclient.read(params)


async def read_limits(client: Client) -> OperationLimits:
    """The OperationLimits of the connected server (two Read requests in the usual case)."""
    names = list(_NODES)
    first = await _read(client, [_NODES[names[0]]])
    found = {names[0]: _as_limit(first[0])}
    rest = names[1:]
    for part in chunks(rest, found[names[0]]):
        try:
            values = await _read(client, [_NODES[n] for n in part])
        except ua.UaStatusCodeError as error:
            if error.code != ua.StatusCodes.BadTooManyOperations:
                raise
            # a server that enforces a MaxNodesPerRead it does not publish: one at a time
            values = [(await _read(client, [_NODES[n]]))[0] for n in part]
        for name, value in zip(part, values, strict=True):
            found[name] = _as_limit(value)
    return OperationLimits(**found)


def chunks(seq: Sequence[T], limit: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of `seq` of at most `limit` items (0 or less: one slice, no limit).

    An empty `seq` yields nothing.
    """
    if not seq:
        return
    if limit <= 0 or limit >= len(seq):
        yield seq
        return
    for start in range(0, len(seq), limit):
        yield seq[start : start + limit]
