"""The input of a replay: its files in order, their lines with positions, and the shift.

A directory replays its `*.lp` and `*.lp.gz` files sorted by name: the demo's file sink
rotates `gateway.lp` into `gateway-<UTC time>.lp`, and those names sort oldest first, before
the current `gateway.lp`. Files are read as bytes, so a line's end is a byte offset a resumed
replay can seek to; a gzip file (known by its magic bytes, whatever its name) is read
decompressed, its offsets those of the decompressed stream (a resume decompresses up to it).
"""

from __future__ import annotations

import datetime as dt
import errno
import gzip
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import GatewayError
from gateway.replay.lines import check, is_data, timestamp
from gateway.sinks.lineprotocol import Precision

__all__ = [
    "Line",
    "input_files",
    "input_size",
    "is_gzip",
    "parse_shift",
    "read_lines",
    "shift_offset",
]

PATTERNS = ("*.lp", "*.lp.gz")


class InputError(GatewayError):
    """The input cannot be replayed as given (missing, empty, a bad --shift)."""


def input_files(path: str | Path) -> list[Path]:
    """FILE itself, or the `*.lp` and `*.lp.gz` files of DIR sorted by name."""
    where = Path(path)
    if where.is_dir():
        found = {p for pattern in PATTERNS for p in where.glob(pattern)}
        files = sorted(p for p in found if p.is_file() and not p.name.startswith("."))
        if not files:
            raise InputError(f"{where}: no *.lp or *.lp.gz files to replay")
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


def is_gzip(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def input_size(path: Path) -> int:
    """Bytes of `path` as read: a gzip file's decompressed size from its trailer (modulo 4
    GiB, of its last member: an estimate for progress only); 0 when it cannot be read."""
    try:
        if not is_gzip(path):
            return path.stat().st_size
        with path.open("rb") as handle:
            handle.seek(-4, 2)
            return int.from_bytes(handle.read(4), "little")
    except OSError:
        return 0


def _open(path: Path) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if is_gzip(path) else path.open("rb")


def read_lines(path: Path, offset: int = 0, number: int = 0) -> Iterator[Line]:
    """The lines of `path` after byte `offset` (where line `number` ended). A gzip stream
    that is corrupt or ends early (a recording cut short) raises OSError where it breaks."""
    with _open(path) as handle:
        try:
            if handle.seek(offset) < offset:  # only a gzip stream stops at its end
                raise InputError(
                    f"{path} is shorter than where the replay stood (byte {offset}); it "
                    f"changed: run without --resume"
                )
            for raw in handle:
                offset += len(raw)
                number += 1
                try:
                    text: str | None = raw.decode("utf-8").strip()  # as InfluxDB, around it
                except UnicodeDecodeError:
                    text = None
                yield Line(number, offset, text)
        except (EOFError, zlib.error) as exc:
            reason = "compressed stream ends early" if isinstance(exc, EOFError) else str(exc)
            raise OSError(errno.EIO, f"{reason} (after line {number})", str(path)) from None


def first_timestamp(path: Path, divisor: int = 1) -> int | None:
    """The timestamp of the first well-formed line of `path` (None: there is none)."""
    for line in read_lines(path):
        if line.text is not None and is_data(line.text):
            start = check(line.text, divisor)
            if start is not None:
                return timestamp(line.text, start)
    return None


def last_timestamp(path: Path, divisor: int = 1, block: int = 1 << 16) -> int | None:
    """The timestamp of the last well-formed line of `path`, read from its end (a gzip
    file, which cannot be read backwards, from its start)."""
    if is_gzip(path):
        last = None
        for line in read_lines(path):
            at = check(line.text, divisor) if line.text and is_data(line.text) else None
            if at is not None:
                last = timestamp(line.text, at)  # type: ignore[arg-type]
        return last
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
