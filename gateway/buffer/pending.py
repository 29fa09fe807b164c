"""The memory tail of the SQLite buffer: lines put but not persisted yet, oldest first.

Kept as one chunk per put() (no per-line objects). Lines have positions in the memory order
(`first` is the position of the oldest), so a batch sent from memory can be acknowledged by
position. `tried` counts the leading lines a persist failed on: only those may be sent from
memory, so every line is tried on disk first.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import chain, islice

Chunk = tuple[int, tuple[str, ...], int]  # (put time, lines, bytes) of one put()
Over = Callable[[int, int], bool]  # (lines, bytes) -> over the limits


class Pending:
    """Lines in memory, in chunks; counts kept up to date."""

    def __init__(self) -> None:
        self.chunks: list[Chunk] = []
        self.lines = 0
        self.bytes = 0
        self.first = 0  # position of the oldest line in the memory order
        self.tried = 0  # leading lines a persist failed on

    def append(self, put_ns: int, lines: tuple[str, ...], size: int) -> None:
        self.chunks.append((put_ns, lines, size))
        self.lines += len(lines)
        self.bytes += size

    @property
    def oldest_ns(self) -> int | None:
        return self.chunks[0][0] if self.chunks else None

    def head(self, count: int) -> tuple[str, ...]:
        """The first `count` lines."""
        return tuple(islice(chain.from_iterable(c[1] for c in self.chunks), count))

    def pop(self, count: int) -> int:
        """Remove the first `count` lines (fewer if there are fewer); how many."""
        count = min(count, self.lines)
        left = count
        while left:
            ns, lines, size = self.chunks[0]
            if len(lines) <= left:
                del self.chunks[0]
                left -= len(lines)
                self.lines -= len(lines)
                self.bytes -= size
                continue
            rest = lines[left:]
            self.chunks[0] = (ns, rest, line_bytes(rest))
            self.lines -= left
            self.bytes -= size - self.chunks[0][2]
            left = 0
        self.first += count
        self.tried = max(0, self.tried - count)
        return count

    def trim(self, over: Over, spared: int) -> int:
        """Drop the oldest lines after the first `spared` (being sent: neither dropped nor
        counted) while the others are over the limits; how many were dropped."""
        kept, rest, n = [], [], 0
        for ns, lines, size in self.chunks:
            if n >= spared:
                rest.append((ns, lines, size))
            elif n + len(lines) <= spared:
                kept.append((ns, lines, size))
            else:  # split the chunk holding the last spared line
                head, tail = lines[: spared - n], lines[spared - n :]
                kept.append((ns, head, line_bytes(head)))
                rest.append((ns, tail, line_bytes(tail)))
            n += len(lines)
        lines_left = self.lines - sum(len(c[1]) for c in kept)
        bytes_left = self.bytes - sum(c[2] for c in kept)
        dropped = 0
        while rest and over(lines_left, bytes_left):
            ns, lines, _ = rest[0]
            k = 0
            while k < len(lines) and over(lines_left, bytes_left):
                lines_left, bytes_left, k = lines_left - 1, bytes_left - line_size(lines[k]), k + 1
            if k == len(lines):
                del rest[0]
            else:
                rest[0] = (ns, lines[k:], line_bytes(lines[k:]))
            dropped += k
        self.chunks = kept + rest
        self.lines -= dropped
        self.bytes = sum(c[2] for c in self.chunks)
        self.tried -= min(dropped, max(0, self.tried - spared))
        return dropped


def line_bytes(lines: tuple[str, ...]) -> int:
    """UTF-8 bytes of `lines` (fast when they are ASCII, as line protocol mostly is)."""
    if all(map(str.isascii, lines)):
        return sum(map(len, lines))
    return sum(len(line.encode()) for line in lines)


def line_size(line: str) -> int:
    return len(line) if line.isascii() else len(line.encode())
