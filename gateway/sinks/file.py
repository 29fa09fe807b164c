"""A sink that appends lines to a local file, with size-based rotation."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from gateway.errors import RetryableSinkError

__all__ = ["FileSink"]

_STAMP_FORMAT = "%Y%m%dT%H%M%S%f"


class FileSink:
    """Append lines to ``<directory>/<prefix>.lp``; every acknowledged write is fsynced.

    Before a write that would push the file past `max_bytes`, the file is renamed to
    ``<prefix>-<UTC YYYYmmddTHHMMSSffffff>.lp`` and a new one is started; only the newest
    `keep` rotated files are kept. A single write larger than `max_bytes` goes, whole, into a
    fresh file. A failed write is truncated away so that a retry never leaves half a line.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        prefix: str = "gateway",
        max_bytes: int = 64 * 1024 * 1024,
        keep: int = 10,
        name: str = "file",
    ) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        if keep < 0:
            raise ValueError("keep must be >= 0")
        self.name = name
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.keep = keep
        self.path = self.directory / f"{prefix}.lp"
        self._rotated = re.compile(rf"{re.escape(prefix)}-\d{{8}}T\d{{12}}\.lp")
        self._file: BinaryIO | None = None
        self._size = 0
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self._open)
            except OSError as exc:
                raise RetryableSinkError(f"{self.name}: cannot open {self.path}: {exc}") from exc

    async def write(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8")
        async with self._lock:
            try:
                await asyncio.to_thread(self._write, data)
            except OSError as exc:
                raise RetryableSinkError(f"{self.name}: cannot write {self.path}: {exc}") from exc

    async def close(self) -> None:
        async with self._lock:
            file, self._file = self._file, None
            if file is not None:
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(file.close)

    def rotated_files(self) -> list[Path]:
        """The rotated files, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.directory) if self._rotated.fullmatch(n))
        except FileNotFoundError:
            return []
        return [self.directory / n for n in names]

    # -- blocking helpers, run in a worker thread ------------------------------------------

    def _open(self) -> BinaryIO:
        if self._file is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            file = open(self.path, "ab")  # noqa: SIM115 - kept open across writes
            self._size = os.fstat(file.fileno()).st_size
            self._file = file
        return self._file

    def _write(self, data: bytes) -> None:
        file = self._open()
        if self._size > 0 and self._size + len(data) > self.max_bytes:
            self._rotate()
            file = self._open()
        start = self._size
        try:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        except OSError:
            self._undo(file, start)
            raise
        self._size = start + len(data)

    def _undo(self, file: BinaryIO, size: int) -> None:
        """Drop a partial write; if that fails too, reopen the file on the next write."""
        try:
            file.truncate(size)
            os.fsync(file.fileno())
        except (OSError, ValueError):
            self._file = None
            with contextlib.suppress(OSError, ValueError):
                file.close()

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        # Names must sort in rotation order even if the clock steps back or two rotations
        # fall in the same microsecond: never go below the newest existing name.
        now = dt.datetime.now(dt.UTC)
        existing = self.rotated_files()
        if existing:
            stem = existing[-1].name[len(self.prefix) + 1 : -len(".lp")]
            with contextlib.suppress(ValueError):  # a matching name that is not a real date
                newest = dt.datetime.strptime(stem, _STAMP_FORMAT).replace(tzinfo=dt.UTC)
                now = max(now, newest + dt.timedelta(microseconds=1))
        target = self.directory / f"{self.prefix}-{now.strftime(_STAMP_FORMAT)}.lp"
        os.replace(self.path, target)
        self._fsync_directory()
        rotated = [*existing, target]
        for old in rotated[: max(0, len(rotated) - self.keep)]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()

    def _fsync_directory(self) -> None:
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
