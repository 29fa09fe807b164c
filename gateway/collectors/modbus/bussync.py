"""Which answers on a bus can be trusted (pure): RTU and ASCII answers carry no transaction
id, so an answer that comes after its read gave up looks like the answer to the next read of
the same unit, function and number of values, however late it is.

After a failed try of unit U (nothing, or bytes that were no valid answer, in time), U is
out of sync for that try's function and count: its answer may still come. A unit answers
its requests one at a time, in order, so an answer that no late one can look like proves
that every earlier one has come or never will: U is in sync again. Before U's next read of
a function it is out of sync for, the link sends a resync read of the same function and
start whose answer no late one can look like (another count, with another byte count:
the count less by one where it has one, a subset of the registers about to be read); until
its answer comes, the frames of U are late answers and are skipped. The resync costs one
exchange after failures only, none on a healthy line.
"""

from __future__ import annotations

from itertools import chain

from gateway.collectors.modbus.wiretime import data_size

TAKE = "take"  # the answer to the read in flight
SKIP = "skip"  # a late answer (of this unit or another): skipped, the bytes after it parsed
_MOST = {1: 2000, 2: 2000, 3: 125, 4: 125}  # the largest count of a read, by function


class BusSync:
    """Per unit, the (function, count) of its failed tries since its last trusted answer."""

    def __init__(self) -> None:
        self._stale: dict[int, set[tuple[int, int]]] = {}

    def failed(self, unit: int, function: int, count: int) -> None:
        """A try of `unit` got no valid answer in time: its answer may still come."""
        self._stale.setdefault(unit, set()).add((function, count))

    def answered(self, unit: int) -> None:
        """A trusted answer of `unit` came: every earlier answer has come or never will."""
        self._stale.pop(unit, None)

    def out_of_sync(self, unit: int) -> bool:
        """True while late answers of `unit` may still arrive."""
        return bool(self._stale.get(unit))

    def resync_count(self, unit: int, function: int, count: int) -> int:
        """The count of the resync read to send before a read of `count` values by
        `function` (0: none needed, no late answer of `unit` can look like its answer)."""
        counts = {c for f, c in self._stale.get(unit, ()) if f == function}
        if not counts:
            return 0
        taken = {data_size(function, c) for c in counts} | {data_size(function, count)}
        most = _MOST.get(function, 125)
        for candidate in chain(range(count - 1, 0, -1), range(count + 1, most + 1)):
            if data_size(function, candidate) not in taken:
                return candidate
        return 1 if count > 1 else 2  # every size late at once: not met in practice

    def judge(self, frame: bytes, unit: int, function: int, count: int) -> str:
        """A complete RTU read answer with a valid CRC, heard during a read of `count` values
        of `unit` by `function`: TAKE, SKIP, or why it is no answer to that read."""
        if frame[0] != unit:
            return SKIP  # a late answer of another unit (a slow neighbour)
        if frame[1] == function | 0x80:
            return TAKE
        if frame[1] == function and frame[2] == data_size(function, count):
            return TAKE
        if self.out_of_sync(unit):
            return SKIP  # a late answer of this unit to a try that gave up
        if frame[1] & 0x7F != function:
            return f"garbled answer (function {frame[1] & 0x7F} to a read of function {function})"
        if frame[2] > data_size(function, count):
            return "garbled answer (a longer frame than asked: a late answer?)"
        return f"garbled answer (a shorter frame than asked: {frame[2]} data bytes)"
