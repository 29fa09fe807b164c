"""A sink that prints lines: for demos and for piping into other tools."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from gateway.errors import RetryableSinkError

__all__ = ["StdoutSink"]


class StdoutSink:
    """Write each line, newline-terminated, to a text stream (sys.stdout by default) and flush."""

    def __init__(self, stream: TextIO | None = None, name: str = "stdout") -> None:
        self.name = name
        self._stream = stream

    async def start(self) -> None:
        return None

    async def write(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            stream.write("\n".join(lines) + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: I/O operation on closed file
            raise RetryableSinkError(f"{self.name}: cannot write to the stream: {exc}") from exc

    async def close(self) -> None:
        return None
