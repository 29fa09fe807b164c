"""What a bus delivered instead of a valid answer, and the silences between frames (pure).

On a bus (serial RTU/ASCII, RTU over TCP) nothing but order ties an answer to its request, so
a failed exchange must say what arrived: nothing (`no response within 0.5s`), a frame whose
CRC does not match (`CRC error in the answer`), fewer bytes than the answer needs (`truncated
answer`) or bytes that are no frame of the unit asked (`garbled answer`). The size of a
read's answer is known from the request alone, so a bad frame is seen as soon as enough
bytes arrived, without waiting for the timeout.
"""

from __future__ import annotations

from gateway.collectors.modbus.endpoint import Endpoint

#: read function codes by pymodbus client method
FUNCTIONS = {
    "read_coils": 1,
    "read_discrete_inputs": 2,
    "read_holding_registers": 3,
    "read_input_registers": 4,
}
_EXCEPTION_SIZE = 5  # unit, function | 0x80, code, CRC (2)
_QUIET_MIN_S = 0.05  # the drain window's floor


def silence_s(endpoint: Endpoint) -> float:
    """The inter-frame silence of RTU: 3.5 characters, fixed at 1.75 ms above 19200 baud (as
    the Modbus serial line specification says); ASCII frames are delimited, no silence."""
    if endpoint.framing != "rtu":
        return 0.0
    if endpoint.baudrate > 19200:
        return 0.00175
    return 3.5 * endpoint.bits_per_char / endpoint.baudrate


def drain_s(endpoint: Endpoint) -> float:
    """How long the line must stay quiet after a failed exchange before the next request, so
    that a slightly late answer, or the rest of a garbled one, is discarded rather than taken
    for the answer to the next request: 64 characters on the line, at least 50 ms."""
    return max(_QUIET_MIN_S, 64 * endpoint.bits_per_char / max(1, endpoint.baudrate))


def answer_size(function: int, count: int) -> int:
    """Bytes of the RTU answer to a read of `count` bits (functions 1, 2) or registers."""
    data = (count + 7) // 8 if function in (1, 2) else 2 * count
    return 3 + data + 2  # unit, function, byte count, data, CRC


def answer_fault(
    heard: bytes, unit: int, function: int, count: int, framing: str, *, timed_out: bool
) -> str:
    """Why `heard` (every byte received since the request went out, no valid answer among
    them) is no answer: "" while more bytes may still complete it (`timed_out` False), else
    the reason for the BAD sample."""
    if framing != "rtu":
        if not timed_out:
            return ""
        return f"garbled or truncated answer ({len(heard)} bytes, no valid frame)" if heard else ""
    size = answer_size(function, count)
    ours = len(heard) >= 2 and heard[0] == unit
    if ours and heard[1] == function | 0x80 and len(heard) >= _EXCEPTION_SIZE:
        return "CRC error in the answer"  # an exception answer that does not check
    if len(heard) >= size:
        if ours and heard[1] == function:
            return "CRC error in the answer"
        return f"garbled answer ({len(heard)} bytes, no valid frame of unit {unit})"
    if not timed_out or not heard:
        return ""
    if ours and heard[1] == function:
        return f"truncated answer ({len(heard)} of {size} bytes)"
    return f"garbled answer ({len(heard)} bytes, no valid frame of unit {unit})"
