"""Timing of a simulated RS-485 line: when an RTU answer may start and when its bytes leave.

A pty (or a TCP socket) carries bytes at memory speed, so the simulator emulates the line: an
answer starts no earlier than the request would have ended on the wire, plus the 3.5-character
silence and the device's turnaround, and each byte is released only once it would have
finished on the wire. Pure functions of the line settings and times (seconds on any monotonic
clock), so the arithmetic is tested without a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

PACE_CHOICES = ("on", "all", "off")  # on: serial lines paced; all: RTU over TCP too; off: none
# Modbus over serial line, 2.5.1.1: above 19200 baud the silences are fixed, not 3.5 chars
_FIXED_SILENCE_S = 0.00175


@dataclass(frozen=True)
class Line:
    """The settings of one serial line, as a device on it sees them."""

    baudrate: int = 19200
    parity: str = "E"  # N, E or O
    stopbits: int = 1
    bytesize: int = 8
    turnaround: float = 0.001  # seconds the device takes before it answers

    @property
    def bits_per_char(self) -> int:
        """Start bit, data bits, parity bit (unless N) and stop bits."""
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits

    @property
    def char_time(self) -> float:
        return self.bits_per_char / self.baudrate

    @property
    def silence(self) -> float:
        """The inter-frame silence (t3.5)."""
        return 3.5 * self.char_time if self.baudrate <= 19200 else _FIXED_SILENCE_S

    def wire_time(self, nbytes: int) -> float:
        return nbytes * self.char_time


def answer_start(
    line: Line,
    *,
    first: float,
    last: float,
    request_bytes: int,
    ready: float,
    line_free: float = float("-inf"),
) -> float:
    """When the first character of an answer may go on the wire.

    `first`/`last`: when the request's first and last bytes arrived; `ready`: when the answer
    was computed (a delay fault makes it late); `line_free`: when the previous answer's last
    character left the line (answers never overlap)."""
    request_end = max(first + line.wire_time(request_bytes), last)
    return max(request_end + line.silence + line.turnaround, ready, line_free + line.silence)


def release_plan(
    line: Line, *, start: float, nbytes: int, min_step: float = 0.001
) -> list[tuple[float, int]]:
    """(moment, byte count) chunks of an answer starting at `start`: a chunk is released when
    its last byte has finished on the wire, and chunks are at least `min_step` apart (fewer
    timers than one per byte; the last chunk may follow the one before sooner)."""
    plan: list[tuple[float, int]] = []
    previous = start
    pending = 0
    for index in range(nbytes):
        pending += 1
        done = start + (index + 1) * line.char_time
        if done - previous >= min_step or index == nbytes - 1:
            plan.append((done, pending))
            previous, pending = done, 0
    return plan
