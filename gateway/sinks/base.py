"""The sink contract: send lines, classify errors. Batching, retry and acks live elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Sink"]


@runtime_checkable
class Sink(Protocol):
    """Where encoded line-protocol lines go.

    `write` returns normally only when the sink has durably accepted every line; otherwise it
    raises a `gateway.errors.SinkError` subclass telling the forwarder what to do next
    (retry, wait, split, or drop as rejected). Lines are str without a trailing newline.
    """

    name: str

    async def start(self) -> None:
        """Open connections or files; called once before the first write."""
        ...

    async def write(self, lines: Sequence[str]) -> None:
        """Store all `lines` or raise a SinkError."""
        ...

    async def close(self) -> None:
        """Release resources; safe to call more than once and without start()."""
        ...
