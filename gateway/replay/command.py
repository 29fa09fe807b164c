"""`gateway replay FILE|DIR`: write recorded line protocol (a simulator `--record` file, plain
or gzip-compressed, the demo's file-sink output, or a directory of them) into InfluxDB or any
configured sink.

Exit codes: 0 replayed to the end (malformed lines skipped are counted, not fatal); 1 stopped
before the end (`--on-error stop`, a sink that kept failing, a compressed file cut short,
Ctrl-C or SIGTERM), resumable with `--resume`, or replayed to the end with nothing written
(every line refused); 2 bad usage, input or configuration (a corrupt state under --resume,
another replay using the state).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from gateway.commandoptions import positive_number, seconds_or_zero
from gateway.errors import GatewayError

__all__ = ["add_parser"]

log = logging.getLogger("gateway.replay")

HELP = (
    "write recorded line protocol (FILE, or the *.lp and *.lp.gz files of DIR) into InfluxDB "
    "or a sink"
)
EPILOG = """\
where it writes: the sinks of the `sinks:` section of the tag maps given with --config, else
InfluxDB from INFLUXDB_V2_URL, INFLUXDB_V2_TOKEN, INFLUXDB_V2_ORG and INFLUXDB_V2_BUCKET (one
of them is required). Timestamps keep the precision of their file, detected from the first
timestamp's magnitude (the precision under which it is a date from 1973 to 2286; ns, line
protocol's default, when none fits) unless --precision says it. The state beside the input
(FILE.replay-state.json, DIR/.replay-state.json) is written after every acknowledged batch
and removed at the end; --resume continues after its last line. Counts: lines read (blank and
# comment lines aside), written, refused (malformed, or refused by a sink); written = read -
refused. A gzip file (FILE.lp.gz, known by its magic bytes) is read decompressed."""


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return int(text)


def add_parser(sub: Any) -> None:
    """Register `replay` on the `gateway` command's subparsers."""
    p = sub.add_parser(
        "replay",
        help=HELP,
        description=HELP,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", metavar="FILE|DIR", help="a line-protocol file, or a directory")
    p.add_argument(
        "--config",
        action="append",
        metavar="PATH",
        help="tag-map file or folder whose `sinks:` section is used (repeatable)",
    )
    p.add_argument(
        "--speed",
        type=positive_number,
        metavar="X",
        help="pace the lines at X times real time, following their timestamps "
        "(default: as fast as the sinks take them)",
    )
    p.add_argument(
        "--shift",
        metavar="now|ISO8601",
        help="move every timestamp by one offset so that the run ends now, or starts at "
        "the given time (e.g. 2026-01-31T08:00:00Z; UTC when no offset is given)",
    )
    p.add_argument(
        "--batch-size",
        type=_count,
        metavar="N",
        help="lines per write (default: sinks.batch_size, 5000)",
    )
    p.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "ns", "us", "ms", "s"],
        help="timestamp precision of the input (default: detected per file)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue after the last line acknowledged by an earlier run",
    )
    p.add_argument("--state", metavar="PATH", help="the state file (default: beside the input)")
    p.add_argument(
        "--on-error",
        choices=["skip", "stop"],
        default="skip",
        help="a malformed line: report it with file:line and skip it (default), or stop there",
    )
    p.add_argument(
        "--retry-for",
        type=seconds_or_zero,
        default=120.0,
        metavar="S",
        help="how long to retry a failing sink before stopping (default 120)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gateway.replay.reading import input_files
    from gateway.replay.state import locked

    files = input_files(args.source)
    state_path = Path(args.state) if args.state else _default_state(args.source)
    with locked(state_path):  # one replay per state file
        return _replay(args, files, state_path)


def _replay(args: argparse.Namespace, files: list[Path], state_path: Path) -> int:
    from gateway.clock import SystemClock
    from gateway.replay.engine import Options, Replay, ReplayStopped
    from gateway.replay.progress import Progress
    from gateway.replay.reading import input_size
    from gateway.replay.sending import Delivery
    from gateway.replay.setup import choose_sinks, precisions_of, prepare_state
    from gateway.replay.state import StateError, save_state

    clock = SystemClock()
    try:
        precisions = precisions_of(files, args.precision)
        sinks, batch_size = choose_sinks(args.config, files, precisions[0])
        state = prepare_state(
            files, precisions, state_path, args.resume, args.shift, clock.now_ns()
        )
    except OSError as exc:
        raise GatewayError(f"cannot read {exc.filename}: {exc.strerror or exc}") from None
    try:
        save_state(state_path, state)
    except StateError as exc:
        raise GatewayError(f"{exc}; give another place with --state PATH") from None
    options = Options(
        batch_size=args.batch_size or batch_size,
        speed=args.speed,
        stop_on_error=args.on_error == "stop",
    )
    delivery = Delivery(sinks, clock, retry_for=args.retry_for)
    total = sum(input_size(f) for f in files)
    progress = Progress(total, sys.stderr, clock.monotonic)
    replay = Replay(files, precisions, delivery, state, state_path, options, clock, progress)
    progress.continues(state.read, replay.bytes_done())

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        # SIGTERM (`docker stop`, systemd) ends the replay like Ctrl-C: resumable, and said so
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        await delivery.start()
        try:
            await replay.run()
        finally:
            await delivery.close()

    try:
        asyncio.run(main())
    except ReplayStopped as exc:
        progress.finish()
        print(f"error: {exc}", file=sys.stderr)
        _summary(replay, "stopped")
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress.finish()
        print(
            f"interrupted: run again with --resume to continue after {state.where()}",
            file=sys.stderr,
        )
        _summary(replay, "interrupted")
        return 1
    progress.finish()
    state_path.unlink(missing_ok=True)
    _summary(replay, "done")
    if state.read and not state.written:  # an input of which nothing can be used
        print(f"error: nothing written: all {state.read} lines read were refused", file=sys.stderr)
        return 1
    return 0


def _default_state(source: str) -> Path:
    from gateway.replay.state import default_state_path

    return default_state_path(source)


def _summary(replay: Any, outcome: str) -> None:
    """`done: 420 lines read, 418 written, 2 refused (2 malformed, 0 by a sink)`: the counts
    acknowledged, earlier runs this one resumed included."""
    state = replay.state
    by_sink = state.refused - state.malformed
    print(
        f"{outcome}: {state.read} lines read, {state.written} written, {state.refused} refused "
        f"({state.malformed} malformed, {by_sink} by a sink), {replay.delivery.retries} "
        f"retries, from {len(replay.files)} file(s)"
    )
