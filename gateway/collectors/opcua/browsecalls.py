"""Browse and Read calls batched to a server's OperationLimits (MaxNodesPerBrowse,
MaxNodesPerRead; 0 or absent = the server sets none), with BrowseNext for continuation points.

Without a server limit a request still carries at most UNLIMITED_BATCH operations, so a large
address space does not turn into one message beyond the transport's size limits."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, cast

from asyncua import Client, ua

log = logging.getLogger(__name__)

_T = TypeVar("_T")
UNLIMITED_BATCH = 1000
_IDS = ua.ObjectIds


def std(ident: int) -> ua.NodeId:
    """A node of namespace 0 by number (asyncua types NodeId fields with its own int class)."""
    return ua.NodeId(cast(Any, ident))


class Limits(Protocol):
    """The operation limits browse needs (0 = no limit)."""

    @property
    def max_nodes_per_browse(self) -> int: ...
    @property
    def max_nodes_per_read(self) -> int: ...


@dataclass(frozen=True, slots=True)
class BrowseLimits:
    """Server_ServerCapabilities_OperationLimits as browse uses them; 0 = no limit."""

    max_nodes_per_browse: int = 0
    max_nodes_per_read: int = 0


def chunks(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
    """`items` in slices of `size` (0: UNLIMITED_BATCH)."""
    step = size if size > 0 else UNLIMITED_BATCH
    return [items[i : i + step] for i in range(0, len(items), step)]


def _rv(node: ua.NodeId, attribute: int) -> ua.ReadValueId:
    rv = ua.ReadValueId()
    rv.NodeId = node
    rv.AttributeId = ua.IntegerId(attribute)
    return rv


class BatchedCalls:
    """Browse and Read calls batched to the server's limits."""

    def __init__(self, client: Client, limits: Limits) -> None:
        self._ua = client.uaclient
        self._browse_max = limits.max_nodes_per_browse
        self._read_max = limits.max_nodes_per_read

    async def read(self, items: Sequence[tuple[ua.NodeId, int]]) -> list[ua.DataValue]:
        out: list[ua.DataValue] = []
        for chunk in chunks(items, self._read_max):
            params = ua.ReadParameters()
            params.NodesToRead = [_rv(node, attr) for node, attr in chunk]
            out += await self._ua.read(params)
        return out

    async def browse(
        self, nodes: Sequence[ua.NodeId], ref_type: int, inverse: bool = False
    ) -> list[list[ua.ReferenceDescription]]:
        """The references of every node (all of them, continuation points followed). A node
        the server refuses gets an empty list, except when the server has no continuation
        point free: that node is browsed again once the others are done."""
        refs: list[list[ua.ReferenceDescription]] = [[] for _ in nodes]
        todo = list(range(len(nodes)))
        while todo:
            retry: list[int] = []
            for chunk in chunks(todo, self._browse_max):
                params = ua.BrowseParameters()
                params.NodesToBrowse = [_description(nodes[i], ref_type, inverse) for i in chunk]
                results = await self._ua.browse(params)
                pending: dict[bytes, int] = {}
                for i, result in zip(chunk, results, strict=True):
                    if result.StatusCode.value == ua.StatusCodes.BadNoContinuationPoints:
                        retry.append(i)
                        continue
                    self._take(refs, i, nodes[i], result, pending)
                await self._browse_next(refs, nodes, pending)
            if retry and len(retry) == len(todo):
                raise ua.UaStatusCodeError(ua.StatusCodes.BadNoContinuationPoints)
            todo = retry
        return refs

    def _take(
        self,
        refs: list[list[ua.ReferenceDescription]],
        index: int,
        node: ua.NodeId,
        result: ua.BrowseResult,
        pending: dict[bytes, int],
    ) -> None:
        if not result.StatusCode.is_good():
            log.debug("browse %s: %s", node.to_string(), result.StatusCode.name)
            return
        refs[index] += result.References or []
        if result.ContinuationPoint:
            pending[result.ContinuationPoint] = index

    async def _browse_next(
        self,
        refs: list[list[ua.ReferenceDescription]],
        nodes: Sequence[ua.NodeId],
        pending: dict[bytes, int],
    ) -> None:
        while pending:
            points = list(pending)
            for chunk in chunks(points, self._browse_max):
                params = ua.BrowseNextParameters()
                params.ReleaseContinuationPoints = False
                params.ContinuationPoints = list(chunk)
                results = await self._ua.browse_next(params)
                for point, result in zip(chunk, results, strict=True):
                    index = pending.pop(point)
                    self._take(refs, index, nodes[index], result, pending)


def _description(node: ua.NodeId, ref_type: int, inverse: bool) -> ua.BrowseDescription:
    desc = ua.BrowseDescription()
    desc.NodeId = node
    desc.BrowseDirection = ua.BrowseDirection.Inverse if inverse else ua.BrowseDirection.Forward
    desc.ReferenceTypeId = std(ref_type)
    desc.IncludeSubtypes = True
    desc.NodeClassMask = 0 if inverse else ua.NodeClass.Object | ua.NodeClass.Variable
    desc.ResultMask = ua.BrowseResultMask.All
    return desc


def local(node: ua.NodeId) -> ua.NodeId:
    """A plain NodeId (browse results carry ExpandedNodeIds)."""
    return ua.NodeId(node.Identifier, node.NamespaceIndex, node.NodeIdType)


def text(value: Any) -> str:
    if isinstance(value, ua.LocalizedText):
        return value.Text or ""
    return "" if value is None else str(value)


def value_of(dv: ua.DataValue) -> Any:
    """The value of a good DataValue, else None."""
    if dv.StatusCode is not None and not dv.StatusCode.is_good():
        return None
    return None if dv.Value is None else dv.Value.Value
