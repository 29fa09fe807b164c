"""Pure: how long the reads of a bus take on the wire (the estimate `gateway plan` shows and
the benchmark's theoretical limit).

A read is one exchange: the request frame, the device's turnaround, the response frame. On a
serial line each character takes `bits_per_char / baudrate` (11 bits in 8E1: start, 8 data,
parity, stop); RTU frames are separated by a silence of 3.5 characters (fixed 1.75 ms above
19200 baud, as the Modbus serial-line specification says), counted twice per exchange
(before the request and before the response). ASCII frames are delimited by `:` and CR LF
and need no silence. RTU over TCP uses the settings of the line behind the device server.
Modbus TCP has no shared line: its wire time is 0 here. The estimate is the normal case: no
retries, no exception responses.
"""

from __future__ import annotations

from typing import Any

from gateway.collectors.modbus.compile import ConnectionPlan, ScanPlan
from gateway.collectors.modbus.endpoint import Endpoint
from gateway.collectors.modbus.planner import ReadRequest

#: above this rate the silence is fixed (the specification's 1.75 ms)
FIXED_SILENCE_ABOVE = 19200
FIXED_SILENCE_S = 0.00175
SILENCE_CHARS = 3.5
#: a read request's PDU: function code, start address, count
REQUEST_PDU = 5
MBAP = 7  # transaction, protocol, length, unit


def data_size(function: int, count: int) -> int:
    """Data bytes of the answer to a read of `count` bits (functions 1, 2) or registers."""
    return (count + 7) // 8 if function in (1, 2) else 2 * count


def exchange_bytes(request: ReadRequest[Any], framing: str) -> tuple[int, int]:
    """Bytes on the wire of the request frame and of its normal response, for framing "rtu"
    (unit + PDU + CRC), "ascii" (`:`, two hex characters per byte of unit + PDU + LRC, CR LF)
    or "socket" (MBAP header + PDU)."""
    return read_exchange_bytes(data_size(request.function, request.count), framing)


def read_exchange_bytes(data: int, framing: str) -> tuple[int, int]:
    """`exchange_bytes` of a read whose answer carries `data` data bytes."""
    request_pdu = REQUEST_PDU
    response_pdu = 2 + data  # function code, byte count, data
    if framing == "rtu":
        return 1 + request_pdu + 2, 1 + response_pdu + 2
    if framing == "ascii":
        return 1 + 2 * (1 + request_pdu + 1) + 2, 1 + 2 * (1 + response_pdu + 1) + 2
    if framing == "socket":
        return MBAP + request_pdu, MBAP + response_pdu
    raise ValueError(f"unknown framing {framing!r} (expected 'rtu', 'ascii' or 'socket')")


def char_time_s(endpoint: Endpoint) -> float:
    """Seconds of one character on the line (0 for Modbus TCP: no line)."""
    if not endpoint.is_bus:
        return 0.0
    return endpoint.bits_per_char / endpoint.baudrate


def silence_s(endpoint: Endpoint) -> float:
    """The silence that ends an RTU frame: 3.5 characters, 1.75 ms above 19200 baud; 0 for
    ASCII (delimited frames) and Modbus TCP."""
    if endpoint.framing != "rtu":
        return 0.0
    if endpoint.baudrate > FIXED_SILENCE_ABOVE:
        return FIXED_SILENCE_S
    return SILENCE_CHARS * char_time_s(endpoint)


def frames_s(endpoint: Endpoint, request: ReadRequest[Any]) -> float:
    """Seconds of the request's and its answer's characters on the line (no silences)."""
    return read_frames_s(endpoint, request.function, request.count)


def read_frames_s(endpoint: Endpoint, function: int, count: int) -> float:
    """`frames_s` of a read of `count` values by `function`."""
    sent, received = read_exchange_bytes(data_size(function, count), endpoint.framing)
    return (sent + received) * char_time_s(endpoint)


def exchange_s(
    endpoint: Endpoint, request: ReadRequest[Any], turnaround_s: float, pause_s: float
) -> float:
    """Seconds the line is busy with one request: its frames' characters, two silences, the
    device's turnaround and the pause after the exchange."""
    if not endpoint.is_bus:
        return 0.0
    return frames_s(endpoint, request) + 2 * silence_s(endpoint) + turnaround_s + pause_s


def scan_wire_s(endpoint: Endpoint, scan: ScanPlan, turnaround_s: float) -> float:
    """Seconds the line is busy with one run of `scan`: the sum of its exchanges."""
    return sum(exchange_s(endpoint, r, turnaround_s, scan.pause_s) for r in scan.requests)


def scan_load(endpoint: Endpoint, scan: ScanPlan) -> float:
    """Wire seconds per second of one scan at its rate."""
    return scan_wire_s(endpoint, scan, scan.turnaround_s) / scan.interval_s


def bus_load(plan: ConnectionPlan) -> float:
    """Wire seconds needed per second by all scans of a connection: above 1 the line cannot
    keep their rates."""
    return sum(scan_load(plan.endpoint, scan) for scan in plan.scans)
