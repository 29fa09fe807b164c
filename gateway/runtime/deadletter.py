"""Dead-letter file: lines a sink rejected (400/422), kept for an operator, never retried."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)


class DeadLetters:
    """Appends rejected lines, each preceded by a `#` comment with the time and the reason
    (line-protocol files allow comments, so the file can be fixed and re-imported)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.lost = 0  # refused lines the file could not take
        self.recent: list[str] = []  # the last rejected lines, for tests and the log
        self._failing = False

    async def add(self, lines: Sequence[str], reason: str) -> None:
        self.recent = [*self.recent, *lines][-100:]
        if self.path is None:
            return
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        text = "".join(f"# {stamp} rejected: {reason}\n{line}\n" for line in lines)
        try:
            await asyncio.to_thread(self._append, text)
        except OSError as exc:  # the refused lines are lost: say so once per episode
            self.lost += len(lines)
            if not self._failing:
                log.error(
                    "Cannot write the dead-letter file %s (%s): refused lines are "
                    "dropped, counted in gateway_sink_rejected_total.",
                    self.path,
                    exc,
                )
                self._failing = True
            return
        self._failing = False

    def _append(self, text: str) -> None:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
