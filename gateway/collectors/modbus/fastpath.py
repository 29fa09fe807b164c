"""Decode and encode one response at once (pure): the fast path of plain tags.

A plain tag (`gateway.pipeline.plain`: no scale, range, deadband or heartbeat) of a fixed-width
number type, or a coil/discrete input, needs no Sample object when its reading is GOOD and
finite: nothing in the pipeline would change it. For each read request, `compile_response`
precompiles, once:

- `struct` formats that unpack every plain value of the response from its registers packed
  once (big-endian, or little-endian for the byte-swapped orders), with pad bytes for the
  registers in between; one format per (buffer, endianness, kind), more only where tags
  overlap;
- a template of the response's lines (one per series run, as `encode_lines` merges them),
  with a `%` field per value in read order, so one `%` formatting writes every line (the
  values come in argument order: one `itemgetter` puts them in read order where the two
  differ).

Tags with rules and strings keep the Sample path (`extract`); bit tags take the fast path
(their registers are in the response anyway). A response with a
non-finite float (NaN is BAD) or registers that do not pack goes the Sample path whole, so
its semantics are exactly those of `extract` and the pipeline.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter

from gateway.collectors.modbus.compile import ModbusTagPlan
from gateway.collectors.modbus.planner import ReadRequest, Span
from gateway.collectors.modbus.types import ByteOrder, DataType
from gateway.model import Encoded, Point, Quality, Sample
from gateway.pipeline import plain
from gateway.sinks.floats import float32_texts

#: the kinds of values, in the order of the template's arguments
F32, F64, INT = 0, 1, 2
_CODES = {
    DataType.FLOAT32: (F32, "f"),
    DataType.FLOAT64: (F64, "d"),
    DataType.INT16: (INT, "h"),
    DataType.UINT16: (INT, "H"),
    DataType.INT32: (INT, "i"),
    DataType.UINT32: (INT, "I"),
    DataType.INT64: (INT, "q"),
    DataType.UINT64: (INT, "Q"),
}
#: (registers packed little-endian, value endianness) of each byte order: the little-endian
#: packing swaps the bytes inside each register, reading the value little-endian reverses
#: the order of its registers
_BUFFERS = {
    ByteOrder.ABCD: (False, ">"),
    ByteOrder.DCBA: (False, "<"),
    ByteOrder.BADC: (True, ">"),
    ByteOrder.CDAB: (True, "<"),
}
_BOOLS = ("false", "true")


def fast(tag: ModbusTagPlan) -> bool:
    """A tag whose GOOD readings skip the Sample path."""
    return plain(tag) and (tag.dtype in (DataType.BOOL, DataType.BIT) or tag.dtype in _CODES)


@dataclass(frozen=True, slots=True)
class _Unpacker:
    kind: int
    swapped: bool  # unpacks the little-endian packing of the registers
    format: struct.Struct


@dataclass(frozen=True, slots=True, eq=False)
class ResponsePlan:
    """How one request's response is decoded and encoded (compiled once per request)."""

    request: ReadRequest[ModbusTagPlan]
    slow: ReadRequest[ModbusTagPlan] | None  # the spans that take the Sample path
    unpackers: tuple[_Unpacker, ...]  # in argument order: F32 ones, F64 ones, INT ones
    flags: tuple[tuple[int, int], ...]  # (offset, shift) of the bit tags: the last arguments
    bits: tuple[int, ...]  # offsets of the plain values of a coil/discrete input request
    template: str  # the response's lines (no timestamps), joined by newlines; `%` fields
    in_read_order: Callable[[Sequence[object]], tuple] | None  # arguments -> template order
    lines: int  # in the template
    points: tuple[Point, ...]  # of the values, in argument order
    order: tuple[int, ...]  # per span of the request: index in the values, or ~index in slow
    count: int  # plain values
    singles: int  # float32 values (the first arguments: their texts are made per response)
    words: struct.Struct  # the registers of the request, packed big-endian
    swapped_words: struct.Struct  # ... little-endian
    needs_swapped: bool


def compile_response(request: ReadRequest[ModbusTagPlan]) -> ResponsePlan | None:
    """The plan of a request that serves at least one fast tag; None otherwise."""
    spans = [s for s in request.spans if fast(s.key)]
    if not spans:
        return None
    slow_spans = tuple(s for s in request.spans if not fast(s.key))
    slow = (
        ReadRequest(request.space, request.unit, request.start, request.count, slow_spans)
        if slow_spans
        else None
    )
    if request.space.is_bit:
        offsets = tuple(s.address - request.start for s in spans)
        index = {id(s): i for i, s in enumerate(spans)}
        return _plan(request, slow, (), (), offsets, spans, index)
    numbers = [s for s in spans if s.key.dtype is not DataType.BIT]
    unpackers, ordered = _unpackers(request, numbers)
    bit_spans = [s for s in spans if s.key.dtype is DataType.BIT]
    ordered += bit_spans
    flags = tuple((s.address - request.start, _shift(s.key)) for s in bit_spans)
    index = {id(s): i for i, s in enumerate(ordered)}
    return _plan(request, slow, unpackers, flags, (), ordered, index)


def _shift(tag: ModbusTagPlan) -> int:
    """Where the tag's bit is in its register as read (a byte swap moves it by 8)."""
    bit = tag.bit or 0
    return bit ^ 8 if tag.order.swap_bytes else bit


def _plan(
    request: ReadRequest[ModbusTagPlan],
    slow: ReadRequest[ModbusTagPlan] | None,
    unpackers: tuple[_Unpacker, ...],
    flags: tuple[tuple[int, int], ...],
    bits: tuple[int, ...],
    ordered: Sequence[Span[ModbusTagPlan]],
    index: dict[int, int],
) -> ResponsePlan:
    slow_index = {id(s): j for j, s in enumerate(slow.spans)} if slow else {}
    order = tuple(index[id(s)] if id(s) in index else ~slow_index[id(s)] for s in request.spans)
    in_read_order = [s for s in request.spans if id(s) in index]
    positions = [index[id(s)] for s in in_read_order]
    template = _template(in_read_order)
    return ResponsePlan(
        request=request,
        slow=slow,
        unpackers=unpackers,
        flags=flags,
        bits=bits,
        template=template,
        in_read_order=None if positions == sorted(positions) else itemgetter(*positions),
        lines=template.count("\n") + 1,
        points=tuple(s.key.point for s in ordered),
        order=order,
        count=len(ordered),
        singles=_singles(unpackers),
        words=_struct(f">{request.count}H"),
        swapped_words=_struct(f"<{request.count}H"),
        needs_swapped=any(u.swapped for u in unpackers),
    )


def _singles(unpackers: tuple[_Unpacker, ...]) -> int:
    return sum(_count(u.format) for u in unpackers if u.kind == F32)


def _count(layout: struct.Struct) -> int:
    """Values a format unpacks."""
    return len(layout.unpack(bytes(layout.size)))


def _unpackers(
    request: ReadRequest[ModbusTagPlan], spans: list[Span[ModbusTagPlan]]
) -> tuple[tuple[_Unpacker, ...], list[Span[ModbusTagPlan]]]:
    """The formats, and the spans in the order their values come out of them."""
    lanes: dict[tuple[int, bool, str], list[list[Span[ModbusTagPlan]]]] = {}
    for span in spans:  # sorted by address: each lane is a run of spans that do not overlap
        kind, _ = _CODES[span.key.dtype]
        swapped, endian = _BUFFERS[span.key.order]
        group = lanes.setdefault((kind, swapped, endian), [])
        for lane in group:
            last = lane[-1]
            if last.address + last.count <= span.address:
                lane.append(span)
                break
        else:
            group.append([span])
    unpackers, ordered = [], []
    for (kind, swapped, endian), group in sorted(lanes.items(), key=lambda item: item[0]):
        for lane in group:
            unpackers.append(_Unpacker(kind, swapped, _lane_format(request, endian, lane)))
            ordered += lane
    return tuple(unpackers), ordered


def _lane_format(
    request: ReadRequest[ModbusTagPlan], endian: str, lane: list[Span[ModbusTagPlan]]
) -> struct.Struct:
    parts, at = [endian], request.start
    for span in lane:
        if span.address > at:
            parts.append(f"{2 * (span.address - at)}x")
        parts.append(_CODES[span.key.dtype][1])
        at = span.address + span.count
    return _struct("".join(parts))


@functools.cache
def _struct(layout: str) -> struct.Struct:
    """One compiled format per layout: devices built alike share them (a 100,000-tag map of
    500 alike devices held ~75,000 equal formats otherwise, ~14 MB)."""
    return struct.Struct(layout)


def _percent(text: str) -> str:
    return text.replace("%", "%%")


def _template(spans: list[Span[ModbusTagPlan]]) -> str:
    """Lines as `encode_lines` writes GOOD samples: consecutive values of one series share
    a line; the value's field is `%s` (a float64 `%r`, its repr), in read order."""
    lines: list[str] = []
    series: str | None = None
    fields: list[str] = []
    for span in spans:
        tag = span.key
        point = tag.point
        key = _percent(point.field_key)
        if tag.dtype is DataType.FLOAT64:
            value = "%r"
        elif tag.dtype in (DataType.FLOAT32, DataType.BOOL, DataType.BIT):
            value = "%s"
        else:
            value = f"%s{'u' if point.unsigned else 'i'}"
        part = f"{key}={value},{key}_quality={int(Quality.GOOD)}i"
        if point.series == series:
            fields.append(part)
            continue
        if fields:
            lines.append(f"{_percent(series or '')} {','.join(fields)}")
        series, fields = point.series, [part]
    lines.append(f"{_percent(series or '')} {','.join(fields)}")
    return "\n".join(lines)


def decode_values(
    plan: ResponsePlan, values: Sequence[int | bool], raw: bytes = b""
) -> tuple | None:
    """The plain values of a response in argument order; None when the response must take
    the Sample path whole (a non-finite float, registers that do not pack). `raw`: the
    registers as received (big-endian), when the response kept them."""
    if plan.bits:
        return tuple(bool(values[offset]) for offset in plan.bits)
    registers = values[: plan.request.count]
    try:
        words = raw if len(raw) == plan.words.size else plan.words.pack(*registers)
        swapped = plan.swapped_words.pack(*registers) if plan.needs_swapped else b""
    except struct.error:
        return None
    out: tuple = ()
    floats = 0.0
    for unpacker in plan.unpackers:
        got = unpacker.format.unpack_from(swapped if unpacker.swapped else words)
        if unpacker.kind != INT:
            floats += sum(got)
        out += got
    if not math.isfinite(floats):  # NaN or infinity somewhere (or a float64 sum overflowed)
        return None
    if plan.flags:
        out += tuple(registers[offset] >> shift & 1 == 1 for offset, shift in plan.flags)
    return out


def encode_values(plan: ResponsePlan, decoded: tuple, time_ns: int) -> Encoded:
    """The response's lines, without their timestamp."""
    if plan.bits:
        args: Sequence[object] = [_BOOLS[v] for v in decoded]
    elif plan.flags:
        numbers = len(decoded) - len(plan.flags)
        flags = [_BOOLS[v] for v in decoded[numbers:]]
        args = (*_numbers(plan, decoded[:numbers]), *flags)
    else:
        args = _numbers(plan, decoded)
    if plan.in_read_order is not None:
        args = plan.in_read_order(args)
    text = plan.template % tuple(args)
    return Encoded(time_ns, [text] if plan.lines == 1 else text.split("\n"), plan.count)


def _numbers(plan: ResponsePlan, decoded: tuple) -> Sequence[object]:
    singles = plan.singles
    if not singles:
        return decoded
    if singles == len(decoded):
        return float32_texts(decoded)
    return (*float32_texts(decoded[:singles]), *decoded[singles:])


def readings(plan: ResponsePlan, decoded: tuple, slow: list[Sample], time_ns: int) -> list[Sample]:
    """Every reading of the response as a Sample, in request order: the plain values built
    now, the `slow` ones (of `plan.slow`, in its order) as they are."""
    points, good = plan.points, Quality.GOOD
    return [
        Sample(points[i], decoded[i], good, time_ns) if i >= 0 else slow[~i] for i in plan.order
    ]
