"""Plan the fewest Modbus read requests that serve a device's tags at one scan rate.

Responsibility: a pure function from the register spans of some tags to read requests. It does no
I/O and knows nothing about tags beyond a key per span (of the caller's type, handed back
typed), which the caller uses to find the tag (and its offset in the response) again.

Algorithm: spans are grouped by (unit id, register space), because one request reads one space
(one function code) of one unit. Within a group the spans are sorted by address and swept left to
right. The next span joins the current request when (a) the hole between the end of the request
and the span's address is at most ``max_gap`` (overlapping and adjacent spans always pass) and
(b) the request, grown to cover the span, stays within the per-request limit; otherwise the span
opens a new request. A span is never split, and overlapping or identical spans share a request.

Greedy left to right is optimal for the number of requests of this interval problem. A span opens
a new request either because it lies beyond a hole wider than ``max_gap`` in the union of all the
spans before it, which no request can bridge, or because it ends more than one limit past the
first address of the current request, and so past the first address of every earlier request.
Either way no two spans that open requests can ever share one, so every plan needs at least as
many requests as the greedy plan.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from gateway.collectors.modbus.types import Space

MAX_REGISTERS = 125  # per read of holding/input registers (Modbus spec)
MAX_BITS = 2000  # per read of coils/discrete inputs (Modbus spec)
ADDRESS_SPACE = 65536  # protocol addresses are 0..65535

K = TypeVar("K", bound=Hashable)  # the caller's identity of a tag, handed back typed


@dataclass(frozen=True, slots=True)
class Span(Generic[K]):
    """The registers (or bits) one tag occupies."""

    key: K  # the identity of the tag, as the caller gave it
    space: Space
    unit: int  # Modbus unit id
    address: int  # first register/bit, 0-based protocol address
    count: int  # registers (or bits) the tag occupies, >= 1


@dataclass(frozen=True, slots=True)
class ReadRequest(Generic[K]):
    """One read of ``count`` registers (or bits) from ``start``, serving ``spans``."""

    space: Space
    unit: int
    start: int
    count: int
    spans: tuple[Span[K], ...]  # sorted by (address, count, input order)

    @property
    def function(self) -> int:
        """The Modbus function code of this read."""
        return self.space.function

    def offset(self, span: Span[K]) -> int:
        """Where ``span`` starts in this request's response, in registers (or bits)."""
        return span.address - self.start


def plan_reads(
    spans: Iterable[Span[K]],
    *,
    max_gap: int = 0,
    max_registers: int = MAX_REGISTERS,
    max_bits: int = MAX_BITS,
) -> list[ReadRequest[K]]:
    """Group ``spans`` into the fewest read requests, ordered by (unit, function code, start).

    ``max_gap`` is the largest hole of unused registers (or bits) a request may read through;
    ``max_registers`` and ``max_bits`` cap the length of one request (a device may accept less
    than the Modbus spec allows). Raises ValueError on a bad option or an impossible span.
    """
    _check_options(max_gap, max_registers, max_bits)
    groups: dict[tuple[int, Space], list[Span[K]]] = {}
    for span in spans:
        _check_span(span, max_bits if span.space.is_bit else max_registers)
        groups.setdefault((span.unit, span.space), []).append(span)
    requests: list[ReadRequest[K]] = []
    for unit, space in sorted(groups, key=lambda group: (group[0], group[1].function)):
        limit = max_bits if space.is_bit else max_registers
        requests.extend(_plan_group(groups[unit, space], limit, max_gap))
    return requests


def split_at_gaps(request: ReadRequest[K]) -> list[ReadRequest[K]]:
    """The requests that read ``request``'s spans without the holes between them, in address
    order (a plan with ``max_gap`` 0); ``[request]`` when it reads no hole.

    A device that answers "illegal data address" to a request bridging undefined registers
    usually answers each of these pieces.
    """
    pieces = _plan_group(list(request.spans), request.count, 0)
    return [request] if len(pieces) == 1 else pieces


def split_refused(request: ReadRequest) -> list[ReadRequest]:
    """What to read instead of a request the device refused with "illegal data address":
    its pieces without the holes (`split_at_gaps`), or, when it reads no hole, one request per
    tag (overlapping spans, such as the bits of one word, stay together), so that a tag whose
    own registers are undefined does not blank its neighbours. ``[request]`` when it serves
    one tag. A piece refused again is split again, by the same rule."""
    pieces = split_at_gaps(request)
    if len(pieces) > 1:
        return pieces
    pieces = _plan_group(list(request.spans), request.count, -1)  # -1: only overlaps merge
    return [request] if len(pieces) == 1 else pieces


def _check_options(max_gap: int, max_registers: int, max_bits: int) -> None:
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    if not 1 <= max_registers <= MAX_REGISTERS:
        raise ValueError(f"max_registers must be 1..{MAX_REGISTERS}, got {max_registers}")
    if not 1 <= max_bits <= MAX_BITS:
        raise ValueError(f"max_bits must be 1..{MAX_BITS}, got {max_bits}")


def _check_span(span: Span[K], limit: int) -> None:
    where = f"span {span.key!r} ({span.space.value} {span.address}, count {span.count})"
    if span.count < 1:
        raise ValueError(f"{where}: count must be >= 1")
    if span.address < 0:
        raise ValueError(f"{where}: address must be >= 0")
    if span.address + span.count > ADDRESS_SPACE:
        raise ValueError(f"{where}: runs past the last address {ADDRESS_SPACE - 1}")
    if span.count > limit:
        raise ValueError(f"{where}: longer than the {limit} one request can read")


def _plan_group(spans: list[Span[K]], limit: int, max_gap: int) -> list[ReadRequest[K]]:
    """Greedy sweep over the spans of one (unit, space); ``sorted`` is stable."""
    batches: list[list[Span[K]]] = []
    start = end = 0
    for span in sorted(spans, key=lambda span: (span.address, span.count)):
        span_end = span.address + span.count
        if batches and span.address - end <= max_gap and max(end, span_end) - start <= limit:
            batches[-1].append(span)
            end = max(end, span_end)
        else:
            batches.append([span])
            start, end = span.address, span_end
    return [_request(batch) for batch in batches]


def _request(batch: list[Span[K]]) -> ReadRequest[K]:
    first = batch[0]
    end = max(span.address + span.count for span in batch)
    return ReadRequest(first.space, first.unit, first.address, end - first.address, tuple(batch))


def reads_at_most(request: ReadRequest) -> int:
    """Reads one request can cost in a scan: itself, plus its pieces (and theirs) if it gets
    split (`split_refused`)."""
    pieces = split_refused(request)
    return 1 if pieces == [request] else 1 + sum(map(reads_at_most, pieces))
