"""What a bus delivered instead of a valid answer, and the drain window after a failed
exchange (pure; the inter-frame silence is `wiretime.silence_s`).

On a bus (serial RTU/ASCII, RTU over TCP) nothing but order ties an answer to its request, so
a failed exchange must say what arrived: nothing (`no response within 0.5s`), a frame whose
CRC does not match (`CRC error in the answer`), fewer bytes than the answer needs (`truncated
answer`) or bytes that are no frame of the unit asked (`garbled answer`). The size of a
read's answer is known from the request alone, so a bad frame is seen as soon as enough
bytes arrived, without waiting for the timeout.
"""

from __future__ import annotations

from pymodbus.framer import FramerRTU

from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.wiretime import char_time_s, data_size

#: read function codes by pymodbus client method
FUNCTIONS = {
    "read_coils": 1,
    "read_discrete_inputs": 2,
    "read_holding_registers": 3,
    "read_input_registers": 4,
}
_READS = frozenset(FUNCTIONS.values())
_EXCEPTION_SIZE = 5  # unit, function | 0x80, code, CRC (2)
_QUIET_MIN_S = 0.05  # the drain window's floor


def drain_s(endpoint: Endpoint) -> float:
    """How long the line must stay quiet after a failed exchange before the next request, so
    that a slightly late answer, or the rest of a garbled one, is discarded rather than taken
    for the answer to the next request: 64 characters on the line, at least 50 ms."""
    return max(_QUIET_MIN_S, 64 * char_time_s(endpoint))


def answer_size(function: int, count: int) -> int:
    """Bytes of the RTU answer to a read of `count` bits (functions 1, 2) or registers."""
    return 3 + data_size(function, count) + 2  # unit, function, byte count, data, CRC


def frame_size(heard: bytes) -> int:
    """The size the RTU read answer at the head of `heard` declares (an exception: 5 bytes,
    values: 5 + its byte count); 0 while its head is not in or is no read answer's."""
    if len(heard) < 2:
        return 0
    function = heard[1]
    if function & 0x80:
        return _EXCEPTION_SIZE if function & 0x7F in _READS else 0
    if function not in _READS or len(heard) < 3:
        return 0
    return 5 + heard[2]


def whole_frame(heard: bytes) -> bytes:
    """The complete RTU read answer with a valid CRC at the head of `heard`, or b""."""
    size = frame_size(heard)
    if not size or len(heard) < size:
        return b""
    frame = bytes(heard[:size])
    crc = int.from_bytes(frame[-2:], "big")
    return frame if FramerRTU.check_CRC(frame[:-2], crc) else b""


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
    declared = frame_size(heard)  # another size than ours: a late answer to another read
    ours = len(heard) >= 2 and heard[0] == unit
    if ours and heard[1] == function | 0x80 and len(heard) >= _EXCEPTION_SIZE:
        return "CRC error in the answer"  # an exception answer that does not check
    if ours and heard[1] == function and declared > size:
        if len(heard) >= declared or timed_out:
            return "garbled answer (a longer frame than asked: a late answer?)"
        return ""  # wait for its end: it may be a valid frame to skip
    if declared > size and not ours and len(heard) < declared and not timed_out:
        return ""  # another unit's frame still arriving (skipped once complete and valid)
    if len(heard) >= size:
        if ours and heard[1] == function:
            return "CRC error in the answer"
        return f"garbled answer ({len(heard)} bytes, no valid frame of unit {unit})"
    if not timed_out or not heard:
        return ""
    if ours and heard[1] == function:
        return f"truncated answer ({len(heard)} of {size} bytes)"
    return f"garbled answer ({len(heard)} bytes, no valid frame of unit {unit})"
