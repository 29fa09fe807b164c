"""RTU frames for the simulated PLC: CRC, cutting requests out of a byte stream, damage.

Requests are framed by length (from the function code, as pymodbus's PDU classes tell it) and
checked by CRC; a partial frame older than the line's silence is dropped, like a device that
saw a gap mid-frame. `damage` spoils an answer for the corruption fault without ever leaving a
valid CRC where a receiver starting at the frame's first byte could find one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU

_REQUESTS = DecodePDU(True)  # request classes, by function code
MIN_FRAME = 4  # unit id, function code, CRC


def crc(body: bytes) -> bytes:
    """The two CRC bytes of a frame body, in wire order."""
    return FramerRTU.compute_CRC(body).to_bytes(2, "big")


def with_crc(body: bytes) -> bytes:
    return body + crc(body)


def crc_ok(frame: bytes) -> bool:
    return len(frame) >= MIN_FRAME and crc(frame[:-2]) == frame[-2:]


def has_valid_prefix(data: bytes) -> bool:
    """Whether some prefix of `data` (4 bytes or more) ends in its own valid CRC."""
    return any(crc_ok(data[:end]) for end in range(MIN_FRAME, len(data) + 1))


def request_size(data: bytes) -> int | None:
    """Bytes of the request frame `data` starts with: 0 when more are needed to tell, None for
    a function code without a known request layout."""
    if len(data) < 2:
        return 0
    try:
        pdu_class = _REQUESTS.lookupPduClass(data)
        if pdu_class is None:
            return None
        return pdu_class.calculateRtuFrameSize(data)
    except Exception:  # a sub-function pymodbus does not know, or an odd layout
        return None


@dataclass(frozen=True)
class Request:
    frame: bytes  # unit id .. CRC
    first: float  # when its first byte arrived
    last: float  # when its last byte arrived


class RequestAssembler:
    """Cuts request frames out of the bytes one end of a line receives."""

    def __init__(self, gap: float) -> None:
        self.gap = gap  # a partial frame older than this is garbage
        self.buffer = b""
        self.first = 0.0
        self.last = 0.0
        self.dropped = 0  # garbage and bad-CRC frames thrown away

    def feed(self, data: bytes, now: float) -> list[Request]:
        if self.buffer and now - self.last > self.gap:
            self._drop()
        if not self.buffer:
            self.first = now
        self.buffer += data
        self.last = now
        frames: list[Request] = []
        while self.buffer:
            size = request_size(self.buffer)
            if size is None:  # unknown layout: a frame only if the CRC closes all of it
                if crc_ok(self.buffer):
                    frames.append(Request(self.buffer, self.first, now))
                    self.buffer = b""
                break
            if size == 0 or len(self.buffer) < size:
                break
            frame, self.buffer = self.buffer[:size], self.buffer[size:]
            if crc_ok(frame):
                frames.append(Request(frame, self.first, now))
            else:  # a device discards a frame with a bad CRC, and the rest of the burst
                self.buffer = frame + self.buffer
                self._drop()
        if self.buffer:
            self.first = now
        return frames

    def _drop(self) -> None:
        self.buffer = b""
        self.dropped += 1


def damage(frame: bytes, rng: random.Random) -> bytes:
    """A spoiled copy of an answer frame: bits flipped, the frame cut short, or a garbage byte
    inside it; never with a valid CRC at any length from its first byte."""
    for _ in range(20):
        kind = rng.randrange(3)
        data = bytearray(frame)
        if kind == 0:
            for _ in range(rng.randint(1, 3)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        elif kind == 1:
            del data[rng.randint(1, len(data) - 1) :]
        else:
            data.insert(rng.randint(1, len(data) - 1), rng.randrange(256))
        if bytes(data) != frame and not has_valid_prefix(bytes(data)):
            return bytes(data)
    return frame[: MIN_FRAME - 1]  # too short to be any frame
