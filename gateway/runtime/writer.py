"""One attempt at writing a batch to a sink: split on 413, tell a refused request from refused
lines on 400/422, isolate refused lines by bisection.

A 400/422 is about the request (InfluxDB 2 without an org: "Please provide either orgID or
org"; a proxy's own 400, whose page may change with every answer) or about lines (a line that
does not parse, a field type conflict, a point beyond the retention period: 422). The messages
of line errors have known shapes ("unable to parse", "field type conflict", "partial write",
"dropped=", "cannot parse"): such a refusal is taken as about lines. Otherwise the writer sends,
alone, a line the sink accepted before (harmless: the same point is overwritten): refused with
a 400, whatever the text, the request is at fault (`RequestRefused`: keep the lines, retry).
Before any line was accepted (or when that line is now beyond retention), the first two lines
of the batch are sent one by one, and their refusals are compared with the batch's, digits
and ids aside. Otherwise the refused lines are isolated by bisection and handed back in
`rejects`; the rest is written, in order. A line is set aside with a message of no known shape
only after the sink took the line it accepted before, so a request refused in the middle of a
bisection still keeps the lines.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.errors import PayloadTooLargeError, RejectedSinkError
from gateway.sinks.base import Sink

log = logging.getLogger("gateway.runtime.forwarder")

# what changes between two answers of a proxy: request ids, times, counters
_VARIES = re.compile(r"[0-9a-fA-F]{8,}(?:-[0-9a-fA-F]{4,})*|\d+")
# how InfluxDB (1.x and 2) and VictoriaMetrics name an error of the lines, not the request
_LINE_ERRORS = (
    "unable to parse",
    "field type conflict",
    "partial write",
    "dropped=",
    "cannot parse",
)


@dataclass
class ForwarderStats:
    """Counters of one sink (exported as metrics)."""

    written: int = 0  # lines the sink accepted
    retries: int = 0  # failed write attempts that will be retried
    rejected: int = 0  # lines refused by the sink and dead-lettered
    healthy: bool | None = None  # the last write succeeded (None: nothing written yet)
    last_error: str = ""


class RequestRefused(Exception):
    """A 400/422 that is about the request, not about the lines in it."""


def same_refusal(a: str, b: str) -> bool:
    """The same message, digits and ids aside (a proxy's page may carry the time)."""
    return a == b or _VARIES.sub("#", a) == _VARIES.sub("#", b)


def line_error(message: str) -> bool:
    """The message has the shape of an error about lines (InfluxDB, VictoriaMetrics)."""
    lowered = message.lower()
    return any(shape in lowered for shape in _LINE_ERRORS)


class BatchWriter:
    """Writes batches to one sink; remembers what it learnt about the sink between attempts
    (the batch size a 413 allows, a line the sink accepted)."""

    def __init__(self, sink: Sink, stats: ForwarderStats, max_batch: int) -> None:
        self.sink = sink
        self.stats = stats
        self.max_batch = max_batch  # lowered after a 413
        self.good: str | None = None  # the last line the sink accepted
        self.done = 0  # leading lines of the batch written or refused (in this attempt)
        self.rejects: list[tuple[str, str]] = []  # (line, reason) refused in this attempt
        self.accepted = False  # the sink accepted lines of the batch in this attempt
        self._isolating = False  # lines were found at fault in this attempt

    async def write(self, lines: Sequence[str]) -> None:
        """One attempt; SinkError or RequestRefused when it failed (`done` tells how far it
        got, `rejects` what was refused)."""
        self.done, self.rejects, self.accepted, self._isolating = 0, [], False, False
        await self._write(lines)

    async def _write(self, lines: Sequence[str]) -> None:
        try:
            await self.sink.write(lines)
        except PayloadTooLargeError as exc:
            if len(lines) == 1:
                self._reject(lines[0], str(exc))
                return
            self._shrink(len(lines))
            await self._halves(lines)
            return
        except RejectedSinkError as exc:
            await self._refused(lines, str(exc))
            return
        self._wrote(lines)

    async def _halves(self, lines: Sequence[str]) -> None:
        middle = len(lines) // 2
        await self._write(lines[:middle])
        await self._write(lines[middle:])

    def _wrote(self, lines: Sequence[str]) -> None:
        self.stats.written += len(lines)
        self.done += len(lines)
        self.good, self.accepted = lines[-1], True

    def _reject(self, line: str, reason: str) -> None:
        self.rejects.append((line, reason))
        self.done += 1

    def _shrink(self, refused: int) -> None:
        """A 413 for `refused` lines: later batches are at most half of it."""
        if refused // 2 < self.max_batch:
            self.max_batch = max(1, refused // 2)
            log.warning(
                "Sink %s refused %d lines as too large (413); sending at most %d per batch.",
                self.sink.name,
                refused,
                self.max_batch,
            )

    async def _refused(self, lines: Sequence[str], message: str) -> None:
        """`lines` were refused with `message`: raise RequestRefused if the request is at
        fault, else write what the sink takes and set the refused lines aside."""
        done = 0
        if not self._isolating:  # probe once per attempt
            done = await self._probe(lines, message)
            self._isolating = True
        rest = lines[done:]
        if done:
            if rest:
                await self._write(rest)
        elif len(rest) == 1:
            await self._set_aside(rest[0], message)
        else:
            await self._halves(rest)

    async def _set_aside(self, line: str, message: str) -> None:
        """`line` alone was refused: set it aside, unless the message has no known shape and
        the sink now refuses a line it accepted before (the request is at fault)."""
        if not line_error(message) and self.good is not None and self.good != line:
            await self._request_check()
        self._reject(line, message)

    async def _request_check(self) -> bool:
        """Send the line accepted before: raise RequestRefused if it is refused (400), whatever
        the text; True when it was taken, False when the answer is about that line itself (a
        line error; 422: beyond retention now, so it is forgotten as a probe)."""
        assert self.good is not None
        refusal = await self._try([self.good])
        if refusal is None:
            return True
        status, message = refusal
        if status == 422:
            self.good = None
            return False
        if not line_error(message):
            raise RequestRefused(message)
        return False

    async def _probe(self, lines: Sequence[str], message: str) -> int:
        """Raise RequestRefused for a request error; else how many leading lines of `lines`
        the probe wrote or set aside."""
        if line_error(message):
            return 0  # the sink named an error of the lines: isolate them
        if self.good is not None:
            taken = await self._request_check()
            if taken or self.good is not None:
                return 0  # it takes the line it took before, or refuses it for what it holds
        first = await self._try(lines[:1])
        if first is None:
            self._wrote(lines[:1])
            return 1
        if line_error(first[1]) or not same_refusal(first[1], message):
            self._reject(lines[0], first[1])
            return 1
        if len(lines) == 1:
            raise RequestRefused(message)  # one line, nothing to compare with: keep it
        second = await self._try(lines[1:2])
        if second is not None and not line_error(second[1]) and same_refusal(second[1], message):
            raise RequestRefused(message)  # two lines alone, refused as the whole batch
        # line 0 was refused as the whole batch, line 1 was not: line 0 is at fault, unless
        # the refusals have just ended; one more try tells
        for line, refusal in ((lines[0], await self._try(lines[:1])), (lines[1], second)):
            if refusal is None:
                self._wrote([line])
            else:
                self._reject(line, refusal[1])
        return 2

    async def _try(self, lines: Sequence[str]) -> tuple[int | None, str] | None:
        """Write `lines`; None when accepted, else the refusal's status and message."""
        try:
            await self.sink.write(lines)
        except PayloadTooLargeError as exc:
            return 413, str(exc)
        except RejectedSinkError as exc:
            return exc.status, str(exc)
        return None
