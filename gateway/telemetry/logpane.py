"""The log of a live view's process, shown inside the view.

A view redrawn in place clears the terminal every second, so a warning printed to the same
terminal would vanish before it is read. While the view runs, the log records that would go
there are kept here instead, and the view lists the latest of them.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from typing import TextIO

#: records kept for the view
KEEP = 4


class LogPane(logging.Handler):
    """Keeps the latest records (WARNING and above by default), formatted on one line each."""

    def __init__(self, keep: int = KEEP, level: int = logging.WARNING) -> None:
        super().__init__(level)
        self._lines: deque[str] = deque(maxlen=keep)
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(" ".join(self.format(record).split()))  # one line, even a traceback
        except Exception:  # never let the log break the process (logging's own rule)
            self.handleError(record)

    def latest(self) -> list[str]:
        return list(self._lines)


@contextlib.contextmanager
def logs_into(pane: LogPane, stream: TextIO) -> Iterator[None]:
    """Within the block, the root logger's handlers that write to `stream` give way to
    `pane`; they are back afterwards."""
    root = logging.getLogger()
    moved = [
        h
        for h in root.handlers
        if isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) is stream
    ]
    for handler in moved:
        root.removeHandler(handler)
    root.addHandler(pane)
    try:
        yield
    finally:
        root.removeHandler(pane)
        for handler in moved:
            root.addHandler(handler)
