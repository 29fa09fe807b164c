"""Binding a device's tags to the nodes of one session, and DataValues to samples.

At every new session the tags' addresses are resolved again (`nsu=` ids by namespace URI,
browse paths on the server), the nodes' data types are read and a reader is chosen per node,
so a server restart that reorders its namespaces or changes a node's type is picked up. A tag
that cannot be bound (unknown node, unsupported type, array without `array_length`) is BAD
with the reason, never a crash and never a wrong value.

Turning a DataValue into samples is the hot path of OPC UA: one reader call (status and value
in one), one timestamp, one Sample per field.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asyncua import Client, ua

from gateway.collectors.opcua.compile import OpcuaPlan, OpcuaTagPlan
from gateway.collectors.opcua.datatypes import NodeType, node_types
from gateway.collectors.opcua.limits import OperationLimits
from gateway.collectors.opcua.models import Timestamp
from gateway.collectors.opcua.nodeids import (
    BrowsePath,
    BrowsePathError,
    NamespaceError,
    resolve,
    resolve_browse_paths,
)
from gateway.collectors.opcua.values import FieldKind, Reading, UnsupportedType, reader
from gateway.model import Quality, Sample, Unsigned

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
BAD = Quality.BAD


@dataclass(frozen=True, slots=True, eq=False)
class Bound:
    """A tag bound to a node of the current session."""

    tag: OpcuaTagPlan
    node_id: ua.NodeId
    read: Callable[[ua.DataValue], Reading]
    unsigned: bool  # UInt64 values: written as unsigned integers


@dataclass(slots=True)
class Binding:
    """The tags of one session: bound ones, and the reasons of those that are not."""

    bound: list[Bound]
    unbound: list[tuple[OpcuaTagPlan, str]]


async def bind(
    client: Client, plan: OpcuaPlan, namespaces: Sequence[str], limits: OperationLimits
) -> Binding:
    """Resolve every tag of `plan` on the session of `client` and choose its reader."""
    names = list(namespaces)
    ids: list[ua.NodeId | str] = []
    paths: list[tuple[int, BrowsePath]] = []
    for index, tag in enumerate(plan.tags):
        if isinstance(tag.address, BrowsePath):
            paths.append((index, tag.address))
            ids.append("")
            continue
        try:
            ids.append(resolve(tag.address, names))
        except NamespaceError as error:
            ids.append(str(error))
    if paths:
        found = await resolve_browse_paths(
            client,
            [p for _, p in paths],
            default_namespace=max(len(names) - 1, 0),
            max_per_call=limits.max_nodes_per_translate_browse_paths_to_node_ids,
        )
        for (index, _), result in zip(paths, found, strict=True):
            ids[index] = str(result) if isinstance(result, BrowsePathError) else result
    nodes = [i for i in ids if isinstance(i, ua.NodeId)]
    types = iter(await node_types(client, nodes, limits) if nodes else [])
    binding = Binding([], [])
    for tag, node in zip(plan.tags, ids, strict=True):
        if not isinstance(node, ua.NodeId):
            binding.unbound.append((tag, node))
            continue
        kind = next(types)
        problem = _mismatch(tag, kind)
        if problem:
            binding.unbound.append((tag, problem))
            continue
        assert isinstance(kind, NodeType)
        read = reader(kind.variant_type, tag.array_length)
        binding.bound.append(Bound(tag, node, read, kind.kind is FieldKind.UINT64))
    return binding


def _mismatch(tag: OpcuaTagPlan, kind: NodeType | UnsupportedType) -> str:
    """Why the node cannot be written as the tag says ('' when it can)."""
    if isinstance(kind, UnsupportedType):
        return str(kind)
    if kind.array_length is not None and tag.array_length is None:
        return (
            f"the node holds an array of {kind.array_length} values: set array_length: "
            f"{kind.array_length} to write them as fields {tag.fields[0].point.field}_0, ..."
        )
    if kind.array_length is None and tag.array_length is not None:
        return "the node holds one value, not an array: remove array_length"
    return ""


class Stamps:
    """Sample times of one batch of DataValues (one publish response or one Read).

    The values of one response mostly share their timestamps, so the last datetime -> Unix ns
    conversion is kept: an equal datetime costs one comparison instead of the arithmetic.
    """

    __slots__ = ("_ns", "_when", "after_ns", "now_ns")

    def __init__(self, now_ns: int, after_ns: int = 0) -> None:
        self.now_ns = now_ns  # the gateway's time of the batch
        # the time of the last BAD gap marker: a value re-sent after a reconnect keeps the
        # source time of its last change, before the marker; written at that old time the
        # series would end BAD although the value is read again, so it is written at the time
        # it was read (the server just confirmed it: not a stale value re-stamped)
        self.after_ns = after_ns
        self._when: datetime | None = None
        self._ns = 0

    def of(self, data: ua.DataValue, which: Timestamp) -> int:
        """The sample time of `data` in Unix ns: its source time (else its server time), its
        server time, or the gateway's."""
        if which is Timestamp.SOURCE:
            when = data.SourceTimestamp or data.ServerTimestamp
        elif which is Timestamp.SERVER:
            when = data.ServerTimestamp
        else:
            return self.now_ns
        if when is None:
            return self.now_ns
        if when != self._when:  # a naive and an aware datetime are never equal
            self._when = when
            self._ns = unix_ns(when)
        return self._ns if self._ns > self.after_ns else self.now_ns


def unix_ns(when: datetime) -> int:
    """A datetime (naive = UTC, as asyncua gives) in Unix ns, exact to the microsecond."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delta: timedelta = when - _EPOCH
    return delta // _US * 1000


def append_samples(bound: Bound, data: ua.DataValue, stamps: Stamps, out: list[Sample]) -> None:
    """The samples of one DataValue of a bound tag (one per field), appended to `out`."""
    value, quality, reason = bound.read(data)
    tag = bound.tag
    ts = stamps.of(data, tag.timestamp)
    if tag.array_length is None:
        if bound.unsigned and value is not None:
            value = Unsigned(value)
        out.append(Sample(tag.fields[0].point, value, quality, ts, reason))
        return
    if value is None:
        out.extend(Sample(f.point, None, quality, ts, reason) for f in tag.fields)
        return
    for field, element in zip(tag.fields, value, strict=True):
        if element is None:
            out.append(Sample(field.point, None, BAD, ts, "not in the array (it is shorter)"))
        else:
            element = Unsigned(element) if bound.unsigned else element
            out.append(Sample(field.point, element, quality, ts, reason))


def bad_samples(tags: Sequence[OpcuaTagPlan], reason: str, now_ns: int) -> list[Sample]:
    """A BAD sample for every field of `tags`: the gap is marked, no value invented."""
    return [Sample(f.point, None, BAD, now_ns, reason) for tag in tags for f in tag.fields]


__all__ = [
    "Binding",
    "Bound",
    "Reading",
    "Stamps",
    "append_samples",
    "bad_samples",
    "bind",
    "unix_ns",
]
