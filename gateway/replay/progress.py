"""Progress of a replay: a bar redrawn in place when stderr is a terminal, a log line every
few seconds otherwise (a file, a pipe, a container's log). Done is measured in bytes of the
input, which are known without reading it first; lines and rate are counted."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TextIO

__all__ = ["Progress", "describe", "render"]

log = logging.getLogger("gateway.replay")

BAR = 24


def duration(seconds: float) -> str:
    """`1:02:03`, `2:03`; `?` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _figures(
    lines: int, done: int, total: int, elapsed: float, before: tuple[int, int] = (0, 0)
) -> tuple[float, float, str]:
    """Fraction done, lines per second, ETA text; `before`: the lines and bytes an earlier
    run did (a resumed replay), which this run's rate leaves out."""
    fraction = min(1.0, done / total) if total else 1.0
    rate = (lines - before[0]) / elapsed if elapsed > 0 else 0.0
    bytes_per_s = (done - before[1]) / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / bytes_per_s if bytes_per_s > 0 else math.inf
    return fraction, rate, duration(max(0.0, eta) if total > done else 0.0)


def render(
    lines: int, done: int, total: int, elapsed: float, before: tuple[int, int] = (0, 0)
) -> str:
    """The bar: `[#########---------]  37 %  12,345 lines  4,567 lines/s  ETA 0:12`."""
    fraction, rate, eta = _figures(lines, done, total, elapsed, before)
    filled = int(fraction * BAR)
    bar = "#" * filled + "-" * (BAR - filled)
    return f"[{bar}] {fraction:4.0%}  {lines:,} lines  {rate:,.0f} lines/s  ETA {eta}"


def describe(
    lines: int, done: int, total: int, elapsed: float, before: tuple[int, int] = (0, 0)
) -> str:
    """The log line: `replay: 12,345 lines, 37 % of the input, 4,567 lines/s, ETA 0:12`."""
    fraction, rate, eta = _figures(lines, done, total, elapsed, before)
    return f"replay: {lines:,} lines, {fraction:.0%} of the input, {rate:,.0f} lines/s, ETA {eta}"


class Progress:
    """Reports `update(lines, done_bytes)` at most every `redraw` s (terminal) or `every` s;
    `before`: the lines and bytes done by the runs a resumed replay continues."""

    def __init__(
        self,
        total_bytes: int,
        stream: TextIO,
        monotonic: Callable[[], float],
        interactive: bool | None = None,
        every: float = 10.0,
        redraw: float = 0.2,
        before: tuple[int, int] = (0, 0),
    ) -> None:
        self.total = total_bytes
        self.stream = stream
        self.monotonic = monotonic
        self.interactive = stream.isatty() if interactive is None else interactive
        self.interval = redraw if self.interactive else every
        self.started = monotonic()
        self._last = self.started
        self._drawn = False
        self.before = before  # lines and bytes of the runs a resumed replay continues
        self.lines, self.done = before

    def continues(self, lines: int, done_bytes: int) -> None:
        """A resumed replay: the earlier runs did `lines` and `done_bytes`."""
        self.before = (lines, done_bytes)
        self.lines, self.done = self.before

    def update(self, lines: int, done_bytes: int) -> None:
        self.lines, self.done = lines, done_bytes
        now = self.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._show(now)

    def _show(self, now: float) -> None:
        elapsed = now - self.started
        if self.interactive:
            self.stream.write(
                "\r" + render(self.lines, self.done, self.total, elapsed, self.before) + "\x1b[K"
            )
            self.stream.flush()
            self._drawn = True
        else:
            log.info("%s", describe(self.lines, self.done, self.total, elapsed, self.before))

    def note(self, message: str) -> None:
        """A message of its own line (a refused line), above the bar on a terminal."""
        if self.interactive and self._drawn:
            self.stream.write("\r\x1b[K")
            self._drawn = False
        self.stream.write(message + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """The last state, and the cursor on a new line, before the summary."""
        if self.interactive:
            self._show(self.monotonic())
            self.stream.write("\n")
            self.stream.flush()
