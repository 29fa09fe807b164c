"""The replay loop: read the files from where the state stands, validate and shift each
line, send batches (as fast as the sinks take them, or paced), and commit the state after
every batch all sinks acknowledged."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

from gateway.clock import Clock
from gateway.errors import GatewayError
from gateway.replay.lines import check, diagnose, in_range, is_data, shifted, timestamp
from gateway.replay.pacing import Pacer
from gateway.replay.progress import Progress
from gateway.replay.reading import input_size, read_lines
from gateway.replay.sending import Delivery, SinkDown
from gateway.replay.state import ReplayState, StateError, save_state
from gateway.sinks.lineprotocol import Precision

__all__ = ["Options", "Replay", "ReplayStopped"]

log = logging.getLogger("gateway.replay")


class ReplayStopped(GatewayError):
    """The replay stopped before the end (a malformed line under `--on-error stop`, a sink
    that kept failing); the state says where `--resume` continues."""


@dataclass
class Options:
    batch_size: int = 5000
    speed: float | None = None  # None: as fast as the sinks take the lines
    stop_on_error: bool = False
    report_limit: int = 100  # malformed lines named one by one, then only counted


@dataclass
class _Batch:
    precision: Precision = Precision.NS  # of the file(s) the lines come from
    lines: list[str] = field(default_factory=list)
    origin: list[tuple[int, int]] = field(default_factory=list)  # each line's file, number


class Replay:
    """One replay of `files` into the delivery's sinks, from where `state` stands."""

    def __init__(
        self,
        files: list[Path],
        precisions: list[Precision],
        delivery: Delivery,
        state: ReplayState,
        state_path: Path,
        options: Options,
        clock: Clock,
        progress: Progress,
    ) -> None:
        self.files, self.precisions = files, precisions
        self.delivery, self.options, self.clock = delivery, options, clock
        self.state, self.state_path, self.progress = state, state_path, progress
        self.pacer = Pacer(options.speed, clock)
        self.batch = _Batch()
        self.position = (state.file, state.offset, state.line)  # after the last line read
        self.read, self.malformed, self.refused = state.read, state.malformed, state.refused
        self.reported = 0
        sizes = [size(f) for f in files]
        self.bytes_before = [sum(sizes[:i]) for i in range(len(files))]

    async def run(self) -> None:
        for index in range(self.state.file, len(self.files)):
            first = index == self.state.file
            start = (self.state.offset, self.state.line) if first else (0, 0)
            try:
                await self._replay_file(index, *start)
            except OSError as exc:  # removed meanwhile (a file sink's rotation), unreadable
                await self._flush()
                raise ReplayStopped(
                    f"{self.files[index]}: cannot read: {exc.strerror or exc}; once it can be "
                    f"read, run again with --resume"
                ) from None
            if index + 1 < len(self.files) and self.precisions[index + 1] != self.precisions[index]:
                await self._flush()  # a batch is written with one precision
        await self._flush()

    async def _replay_file(self, index: int, offset: int, number: int) -> None:
        path, precision = self.files[index], self.precisions[index]
        shift = self.state.shift_ns // precision.divisor
        self.batch.precision = precision
        for line in read_lines(path, offset, number):
            text = line.text
            if text is not None and not is_data(text):
                self.position = (index, line.end, line.number)
                continue
            at = None if text is None else check(text, precision.divisor)
            reason = None
            if text is None or at is None:
                reason = "not UTF-8" if text is None else diagnose(text, precision.divisor)
            elif not in_range((timestamp(text, at) + shift) * precision.divisor):
                reason = f"timestamp {text[at:]} shifted by {shift} is outside InfluxDB's range"
            if reason is not None:
                await self._malformed(path, line.number, reason)
                self.position = (index, line.end, line.number)
                continue
            assert text is not None
            assert at is not None
            wait = self.pacer.wait(timestamp(text, at) * precision.divisor)
            if wait > 0:
                await self._flush()
                await self.clock.sleep(wait)
            moved = shifted(text, at, shift)
            self.batch.lines.append(moved)
            self.batch.origin.append((index, line.number))
            self.read += 1
            self.position = (index, line.end, line.number)
            if len(self.batch.lines) >= self.options.batch_size:
                await self._flush()

    async def _malformed(self, path: Path, number: int, reason: str) -> None:
        if self.options.stop_on_error:
            await self._flush()  # the lines before it are written; the state stays before it
            raise ReplayStopped(
                f"{path}:{number}: malformed line: {reason}; stopped (--on-error stop): fix or "
                f"remove the line, then run again with --resume"
            )
        self.read += 1
        self.malformed += 1
        self.refused += 1
        self._report(f"{path}:{number}: malformed line: {reason}; skipped")

    def _report(self, message: str) -> None:
        self.reported += 1
        if self.reported <= self.options.report_limit:
            self.progress.note(message)
        elif self.reported == self.options.report_limit + 1:
            self.progress.note("further refused lines are counted, not listed")

    async def _flush(self) -> None:
        """Send the batch, then commit the state (position and counts) and show progress."""
        batch, self.batch = self.batch, _Batch(self.batch.precision)
        written = 0
        if batch.lines:
            written = len(batch.lines) - await self._send(batch)
        self._commit(written)

    async def _send(self, batch: _Batch) -> int:
        """Write the batch to every sink; how many of its lines were refused."""
        influx = sys.modules.get("gateway.sinks.influxdb")  # imported when one is configured
        for sink in self.delivery.sinks:
            if influx is not None and isinstance(sink, influx.InfluxDBSink):
                sink.precision = batch.precision  # the lines keep their file's precision
        try:
            refusals = await self.delivery.send(batch.lines)
        except SinkDown as exc:
            raise ReplayStopped(
                f"{exc}; nothing after {self.state.where()} is acknowledged: once the sink "
                f"works, run again with --resume"
            ) from None
        refused = {line for _, line, _ in refusals}
        index = {line: i for i, line in enumerate(batch.lines) if line in refused}
        for name, line, reason in refusals:
            file, number = batch.origin[index[line]]
            self._report(f"{self.files[file]}:{number}: refused by sink {name}: {reason}")
        count = sum(1 for line in batch.lines if line in refused) if refused else 0
        self.refused += count
        return count

    def _commit(self, written: int) -> None:
        state = self.state
        state.file, state.offset, state.line = self.position
        state.read, state.malformed, state.refused = self.read, self.malformed, self.refused
        state.written += written
        try:
            save_state(self.state_path, state)
        except StateError as exc:  # what the sinks took is written; where is not kept
            raise ReplayStopped(f"{exc}; the replay cannot keep its place") from None
        self.progress.update(state.read, self.bytes_done())

    def bytes_done(self) -> int:
        """Bytes of the input before the state's position."""
        state = self.state
        if state.file >= len(self.files):
            return sum(size(f) for f in self.files)
        return self.bytes_before[state.file] + state.offset


def size(path: Path) -> int:
    """Bytes of `path` as read (0 when it cannot be read: the replay says so when it gets
    there)."""
    return input_size(path)
