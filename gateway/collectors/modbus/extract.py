"""Turn one read response into Samples (pure): decode every tag the request serves."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.collectors.modbus.codec import DecodeError, InvalidText, decode
from gateway.collectors.modbus.compile import ModbusTagPlan
from gateway.collectors.modbus.planner import ReadRequest
from gateway.collectors.modbus.types import DataType
from gateway.model import Quality, Sample, bad

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


def exception_reason(code: int) -> str:
    """Readable reason for a Modbus exception response."""
    return f"Modbus exception {code} ({EXCEPTION_NAMES.get(code, 'unknown')})"


def extract(
    request: ReadRequest[ModbusTagPlan], values: Sequence[int | bool], time_ns: int
) -> list[Sample]:
    """One sample per tag served by `request`; a tag that fails to decode is BAD, not an error."""
    out = []
    start = request.start
    for span in request.spans:
        tag = span.key
        offset = span.address - start
        if tag.dtype is DataType.BOOL:
            out.append(Sample(tag.point, bool(values[offset]), Quality.GOOD, time_ns))
            continue
        if tag.dtype is DataType.STRING:
            out.append(_text(tag, values[offset : offset + tag.count], time_ns))
            continue
        try:
            value = decode(values[offset : offset + tag.count], tag.dtype, tag.order, bit=tag.bit)
        except DecodeError as exc:
            out.append(bad(tag.point, time_ns, f"decode error: {exc}"))
            continue
        out.append(Sample(tag.point, value, Quality.GOOD, time_ns))
    return out


def _text(tag: ModbusTagPlan, registers: Sequence[int | bool], time_ns: int) -> Sample:
    """A string: GOOD; UNCERTAIN with U+FFFD in place of bytes invalid in its encoding (the
    rest of the text is still worth having, but the value is not what the device holds)."""
    try:
        value = decode(registers, tag.dtype, tag.order, encoding=tag.encoding)
    except InvalidText as exc:
        reason = f"invalid {tag.encoding.upper()} bytes replaced with U+FFFD ({exc.why})"
        return Sample(tag.point, exc.text, Quality.UNCERTAIN, time_ns, reason)
    except DecodeError as exc:
        return bad(tag.point, time_ns, f"decode error: {exc}")
    return Sample(tag.point, value, Quality.GOOD, time_ns)


def failed(request: ReadRequest[ModbusTagPlan], time_ns: int, reason: str) -> list[Sample]:
    """A BAD sample for every tag of a request that could not be read."""
    return [bad(span.key.point, time_ns, reason) for span in request.spans]
