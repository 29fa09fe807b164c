"""The input of a replay: its files in order, their lines with positions, and the shift.

A directory replays its `*.lp` files sorted by name: the demo's file sink rotates
`gateway.lp` into `gateway-<UTC time>.lp`, and those names sort oldest first, before the
current `gateway.lp`. Files are read as bytes, so a line's end is a byte offset a resumed
replay can seek to.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import GatewayError
from gateway.replay.lines import check, is_data, timestamp
from gateway.sinks.lineprotocol import Precision

__all__ = ["Line", "input_files", "parse_shift", "read_lines", "shift_offset"]


class InputError(GatewayError):
    """The input cannot be replayed as given (missing, empty, a bad --shift)."""


def input_files(path: str | Path) -> list[Path]:
    """FILE itself, or the `*.lp` files of DIR sorted by name."""
    where = Path(path)
    if where.is_dir():
        files = sorted(p for p in where.glob("*.lp") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise InputError(f"{where}: no *.lp files to replay")
        return files
    if not where.is_file():
        raise InputError(f"{where}: no such file or directory")
    return [where]


@dataclass(frozen=True, slots=True)
class Line:
    """One physical line: its number (from 1), the byte offset after it, its text without
    the whitespace around it (None when it is not UTF-8)."""

    number: int
    end: int
    text: str | None


def read_lines(path: Path, offset: int = 0, number: int = 0) -> Iterator[Line]:
    """The lines of `path` after byte `offset` (where line `number` ended)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            offset += len(raw)
            number += 1
            try:
                text: str | None = raw.decode("utf-8").strip()  # as InfluxDB, around a line
            except UnicodeDecodeError:
                text = None
            yield Line(number, offset, text)


def first_timestamp(path: Path, divisor: int = 1) -> int | None:
    """The timestamp of the first well-formed line of `path` (None: there is none)."""
    for line in read_lines(path):
        if line.text is not None and is_data(line.text):
            start = check(line.text, divisor)
            if start is not None:
                return timestamp(line.text, start)
    return None


def last_timestamp(path: Path, divisor: int = 1, block: int = 1 << 16) -> int | None:
    """The timestamp of the last well-formed line of `path`, read from its end."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        end = size
        while end > 0:
            start = max(0, end - block)
            handle.seek(start)
            chunk = handle.read(size - start)
            lines = chunk.split(b"\n")
            if start > 0:
                lines = lines[1:]  # maybe cut in the middle
            for raw in reversed(lines):
                text = raw.decode("utf-8", "replace").strip()
                at = check(text, divisor) if is_data(text) else None
                if at is not None:
                    return timestamp(text, at)
            end = start
            block *= 2
    return None


def parse_shift(text: str) -> int | None:
    """`now` (None: the run ends now) or an ISO 8601 time the run starts at, in Unix ns (a
    time without an offset is UTC)."""
    if text == "now":
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InputError(
            f"--shift {text!r}: expected `now` or an ISO 8601 time such as 2026-01-31T08:00:00Z"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def shift_offset(
    start_at_ns: int | None, files: list[Path], precisions: list[Precision], now_ns: int
) -> int:
    """The offset, in ns, that moves the run to start at `start_at_ns` (None: to end at
    `now_ns`): one offset for every line of every file."""
    if start_at_ns is None:
        last = _known(last_timestamp(files[-1], precisions[-1].divisor), files[-1])
        return now_ns - last * precisions[-1].divisor
    first = _known(first_timestamp(files[0], precisions[0].divisor), files[0])
    return start_at_ns - first * precisions[0].divisor


def _known(value: int | None, path: Path) -> int:
    if value is None:
        raise InputError(f"{path}: no well-formed line to take the time from")
    return value
