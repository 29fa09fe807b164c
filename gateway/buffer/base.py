"""The buffer contract: lines leave a buffer only when the sink acknowledged them.

`begin(n)` returns the oldest lines without removing them; `commit(batch)` removes them once
the sink has accepted them. Anything not committed stays queued, in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Batch:
    """Lines `first` .. `first + len(lines) - 1` of the buffer's sequence."""

    first: int
    lines: tuple[str, ...]


class Buffer(Protocol):
    """Store-and-forward queue of line-protocol lines."""

    def put(self, lines: Sequence[str]) -> int:
        """Queue lines; return how many lines the overflow policy dropped."""
        ...

    def begin(self, max_lines: int) -> Batch | None:
        """The oldest queued lines (at most `max_lines`), still queued; None when empty."""
        ...

    def commit(self, batch: Batch) -> None:
        """Remove an acknowledged batch."""
        ...

    @property
    def depth(self) -> int:
        """Lines queued."""
        ...
