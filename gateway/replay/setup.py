"""What a replay needs before its first line: the precision of each file, the sinks, and the
state (new, or the one an earlier run left, checked against the input)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway.errors import GatewayError
from gateway.replay.lines import detect_precision
from gateway.replay.reading import (
    InputError,
    first_timestamp,
    is_gzip,
    parse_shift,
    shift_offset,
)
from gateway.replay.state import ReplayState, StateError, load_state
from gateway.runtime.sinkset import ENV, build_sinks, describe_sink
from gateway.sinks.base import Sink
from gateway.sinks.file import FileSink
from gateway.sinks.lineprotocol import Precision

__all__ = ["choose_sinks", "precisions_of", "prepare_state"]

log = logging.getLogger("gateway.replay")


def _when(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / 1e9, dt.UTC).isoformat(timespec="seconds")


def precisions_of(files: Sequence[Path], forced: str) -> list[Precision]:
    """Each file's precision: `forced`, or detected from its first timestamp (logged)."""
    if forced != "auto":
        return [Precision(forced)] * len(files)
    found = []
    for path in files:
        first = first_timestamp(path)
        precision = Precision.NS if first is None else detect_precision(first)
        if first is not None:
            date = _when(first * precision.divisor)
            log.info(
                "%s: timestamps in %s (the first, %d, is %s)", path, precision.value, first, date
            )
        found.append(precision)
    return found


def choose_sinks(
    config_paths: Sequence[str] | None, inputs: Sequence[Path], precision: Precision
) -> tuple[list[Sink], int]:
    """The sinks of the tag maps' `sinks:` section, else InfluxDB from the environment; and
    the batch size (`sinks.batch_size`)."""
    sinks_config, where = None, None
    if config_paths:
        from gateway.config import load_tagmaps

        loaded = load_tagmaps(config_paths)
        sinks_config, where = loaded.sinks, loaded.sections_at.get("sinks")
    chosen = sinks_config is not None and bool(
        sinks_config.influxdb or sinks_config.file or sinks_config.stdout
    )
    if not chosen and not os.environ.get(ENV["url"]):
        raise GatewayError(
            "nowhere to write: set INFLUXDB_V2_URL (with INFLUXDB_V2_TOKEN, _ORG, _BUCKET) or "
            "give --config with tag maps that have a `sinks:` section"
        )
    sinks = build_sinks(sinks_config, os.environ, where)
    influx = sys.modules.get("gateway.sinks.influxdb")  # imported when one is configured
    for sink in sinks:
        if influx is not None and isinstance(sink, influx.InfluxDBSink):
            sink.precision = precision  # that of the first file; the replay sets each batch's
        if isinstance(sink, FileSink) and any(_same(sink.path, p) for p in inputs):
            raise GatewayError(f"sink {sink.name} writes {sink.path}, which is being replayed")
        log.info("%s", describe_sink(sink))
    return sinks, sinks_config.batch_size if sinks_config else 5000


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def prepare_state(
    files: Sequence[Path],
    precisions: Sequence[Precision],
    state_path: Path,
    resume: bool,
    shift: str | None,
    now_ns: int,
) -> ReplayState:
    """A new state, or with `resume` the one an earlier run left (checked against the input;
    its shift is kept, so a resumed `--shift now` run moves its lines as the first did)."""
    inputs = [str(p.resolve()) for p in files]
    try:
        earlier = load_state(state_path)
    except StateError as exc:
        if resume:
            raise
        # a fresh replay does not need it: the first commit replaces it
        log.warning("%s; it is overwritten (no --resume)", exc)
        earlier = None
    if resume and earlier is not None:
        _check_matches(earlier, inputs, state_path)
        log.info("resuming after %s (%d lines read before)", earlier.where(), earlier.read)
        if shift is not None:
            log.info("the shift of the earlier run is kept (%+.3f s)", earlier.shift_ns / 1e9)
        return earlier
    if resume:
        log.info("no replay state at %s: starting at the beginning", state_path)
    elif earlier is not None:
        log.info("starting at the beginning (--resume would continue the earlier run)")
    offset = 0
    if shift is not None:
        offset = shift_offset(parse_shift(shift), list(files), list(precisions), now_ns)
        log.info("timestamps shifted by %+.3f s", offset / 1e9)
    return ReplayState(inputs=inputs, shift_ns=offset)


def _check_matches(state: ReplayState, inputs: list[str], path: Path) -> None:
    upto = state.file + 1
    if state.inputs[:upto] != inputs[:upto]:
        raise InputError(
            f"{path}: the replay state is of other input ({', '.join(state.inputs[:upto])}); "
            f"remove it or run without --resume"
        )
    if state.file >= len(inputs) or is_gzip(current := Path(inputs[state.file])):
        return  # a gzip file's size is known only by reading it: the replay checks it then
    if current.stat().st_size < state.offset:
        raise InputError(
            f"{path}: {inputs[state.file]} is shorter than where the replay stood (byte "
            f"{state.offset}); it changed: run without --resume"
        )
