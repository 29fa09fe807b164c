"""A relay between two serial lines that spoils what devices answer, for the bus tests.

The gateway talks to one pty pair, the device to another; the relay copies bytes between
the inner ends. Requests pass untouched. Of the chunks the device sends back (one write of
pymodbus's server: one frame), a seeded fraction is corrupted in turn by a flipped byte (a
CRC error), a cut tail (a truncated frame) or a garbled head (the unit id); `mute` drops
everything both ways (a line that goes silent).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter


class CorruptingRelay:
    """Copies `gateway_end` <-> `device_end` (the inner ends of two pty pairs)."""

    MODES = ("flip", "truncate", "garble")

    def __init__(self, gateway_end: str, device_end: str, fraction: float, seed: int = 7):
        self.fraction = fraction
        self.mute = False
        self.spoiled: Counter[str] = Counter()  # frames corrupted, by mode
        self.passed = 0  # answer chunks passed untouched
        self._random = random.Random(seed)
        self._turn = 0
        flags = os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK
        self._gateway = os.open(gateway_end, flags)
        self._device = os.open(device_end, flags)

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self._gateway, self._copy, self._gateway, self._device, False)
        loop.add_reader(self._device, self._copy, self._device, self._gateway, True)

    def stop(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in (self._gateway, self._device):
            loop.remove_reader(fd)
            os.close(fd)

    def _copy(self, source: int, target: int, answer: bool) -> None:
        try:
            data = os.read(source, 4096)
        except BlockingIOError:
            return
        if self.mute or not data:
            return
        if answer:
            data = self._spoil(data)
        os.write(target, data)

    def _spoil(self, data: bytes) -> bytes:
        if self._random.random() >= self.fraction:
            self.passed += 1
            return data
        mode = self.MODES[self._turn % len(self.MODES)]
        self._turn += 1
        self.spoiled[mode] += 1
        frame = bytearray(data)
        if mode == "flip":
            at = self._random.randrange(2, len(frame)) if len(frame) > 2 else 0
            frame[at] ^= 1 << self._random.randrange(8)
        elif mode == "truncate":
            del frame[-2:]
        else:
            frame[0] ^= 0xFF
        return bytes(frame)
