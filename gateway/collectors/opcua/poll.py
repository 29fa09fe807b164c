"""Polling: Read requests chunked to the server's MaxNodesPerRead.

One bad node is one DataValue with its Bad status, never an exception for the whole scan. A
chunk the server refuses as a whole with a status that is not about the session (for example
BadTooManyOperations from a server that enforces a limit it does not publish) is split in two
and read again, down to single nodes; a node still refused gets a DataValue with that status.
What the session layer must act on (connection lost, timeout, session or secure channel gone)
raises ReadError, with the cause chained.
"""

from __future__ import annotations

from collections.abc import Sequence

from asyncua import Client, ua

from gateway.collectors.opcua.limits import OperationLimits, chunks

_S = ua.StatusCodes
# Service results that mean the session or the connection is gone: the session layer's business.
SESSION_FAULTS: frozenset[int] = frozenset(
    {
        _S.BadSessionIdInvalid,
        _S.BadSessionClosed,
        _S.BadSessionNotActivated,
        _S.BadSecureChannelIdInvalid,
        _S.BadSecureChannelClosed,
        _S.BadConnectionClosed,
        _S.BadNotConnected,
        _S.BadServerNotConnected,
        _S.BadTimeout,
        _S.BadRequestTimeout,
        _S.BadCommunicationError,
        _S.BadNoCommunication,
        _S.BadServerHalted,
        _S.BadShutdown,
        _S.BadDisconnect,
        _S.BadTcpSecureChannelUnknown,
    }
)


class ReadError(Exception):
    """A Read that could not be done because of the connection or the session (see __cause__)."""


def value_reads(node_ids: Sequence[ua.NodeId]) -> list[ua.ReadValueId]:
    """ReadValueIds of the Value attribute of `node_ids` (build once, read every scan)."""
    items = []
    for node_id in node_ids:
        item = ua.ReadValueId()
        item.NodeId = node_id
        item.AttributeId = ua.AttributeIds.Value
        items.append(item)
    return items


async def read_values(
    client: Client, node_ids: Sequence[ua.NodeId], limits: OperationLimits
) -> list[ua.DataValue]:
    """The current DataValue (source and server timestamps) of each node, in order."""
    return await read(client, value_reads(node_ids), limits)


async def read(
    client: Client,
    items: Sequence[ua.ReadValueId],
    limits: OperationLimits,
    timestamps: ua.TimestampsToReturn = ua.TimestampsToReturn.Both,
) -> list[ua.DataValue]:
    """Read `items` (any attributes) in Read requests of at most MaxNodesPerRead items."""
    out: list[ua.DataValue] = []
    for part in chunks(items, limits.max_nodes_per_read):
        out.extend(await _read_chunk(client, part, timestamps))
    return out


async def _read_chunk(
    client: Client, items: Sequence[ua.ReadValueId], timestamps: ua.TimestampsToReturn
) -> list[ua.DataValue]:
    params = ua.ReadParameters()
    params.MaxAge = 0
    params.TimestampsToReturn = timestamps
    params.NodesToRead = list(items)
    try:
        results = await client.uaclient.read(params)
    except ua.UaStatusCodeError as error:
        if error.code in SESSION_FAULTS:
            raise ReadError(f"read failed: {ua.StatusCode(error.code).name}") from error
        if len(items) > 1:
            half = len(items) // 2
            first = await _read_chunk(client, items[:half], timestamps)
            return first + await _read_chunk(client, items[half:], timestamps)
        return [_bad(error.code)]
    except (TimeoutError, ConnectionError, OSError, ua.UaError) as error:
        raise ReadError(f"read failed: {error.__class__.__name__}: {error}") from error
    if len(results) != len(items):  # a server bug; keep the scan, blame every node of it
        return [_bad(_S.BadUnexpectedError)] * len(items)
    return results


def _bad(code: int) -> ua.DataValue:
    return ua.DataValue(StatusCode=ua.StatusCode(ua.UInt32(code)))
