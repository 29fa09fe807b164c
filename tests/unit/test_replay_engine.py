"""gateway replay's loop against a memory sink on a fake clock: batches and counts, a sink
outage (retried, then stopped with a resumable state), throttling, pacing, --on-error stop,
lines a sink refuses; the state file and the progress report."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from gateway.errors import (
    PayloadTooLargeError,
    RejectedSinkError,
    RetryableSinkError,
    ThrottledSinkError,
)
from gateway.replay.engine import Options, Replay, ReplayStopped
from gateway.replay.progress import Progress, describe, duration, render
from gateway.replay.reading import InputError
from gateway.replay.sending import Delivery
from gateway.replay.setup import prepare_state
from gateway.replay.state import ReplayState, default_state_path, load_state, save_state
from gateway.sinks.lineprotocol import Precision
from gateway.sinks.memory import MemorySink
from gateway.testing import FakeClock

SECOND = 10**9
T0 = 1_700_000_000 * SECOND


def lines_at(*seconds: int, device: str = "c1") -> list[str]:
    return [f"cell,device={device} v={s}.5,n={s}i {T0 + s * SECOND}" for s in seconds]


class OutageSink(MemorySink):
    """A memory sink that is down (RetryableSinkError) while `down` is set."""

    def __init__(self) -> None:
        super().__init__("db")
        self.down = False
        self.after: int | None = None  # goes down after this many successful writes

    async def write(self, lines: Sequence[str]) -> None:
        if self.after is not None and self.writes >= self.after:
            self.down = True
        if self.down:
            self.writes += 1
            raise RetryableSinkError("db: cannot reach http://db:8086: ConnectionRefusedError")
        await super().write(lines)


def make(
    tmp_path: Path,
    sink: MemorySink,
    clock: FakeClock,
    state: ReplayState | None = None,
    **options: object,
) -> Replay:
    files = sorted(tmp_path.glob("*.lp"))
    state = state or ReplayState(inputs=[str(f) for f in files])
    progress = Progress(1, io.StringIO(), clock.monotonic, interactive=False)
    delivery = Delivery([sink], clock, retry_for=10.0)
    return Replay(
        files,
        [Precision.NS] * len(files),
        delivery,
        state,
        tmp_path / "state.json",
        Options(**options),  # type: ignore[arg-type]
        clock,
        progress,
    )


async def test_lines_go_in_batches_and_blank_comment_and_malformed_lines_are_counted_apart(
    tmp_path: Path,
) -> None:
    good = lines_at(*range(10))
    body = [*good[:3], "", "# a comment", "cell,device=c1 v=1.0", *good[3:]]
    (tmp_path / "run.lp").write_text("\n".join(body) + "\n")
    sink = MemorySink()
    replay = make(tmp_path, sink, FakeClock(), batch_size=4)
    await replay.run()
    assert sink.lines == good
    assert sink.writes == 3  # 4 + 4 + 2
    state = load_state(tmp_path / "state.json")
    assert state is not None
    assert (state.read, state.written, state.refused, state.malformed) == (11, 10, 1, 1)
    assert state.line == 13
    notes = replay.progress.stream.getvalue()  # type: ignore[attr-defined]
    assert f"{tmp_path / 'run.lp'}:6: malformed line: no timestamp" in notes


async def test_an_outage_is_retried_then_stops_resumably_and_the_resume_completes_once(
    tmp_path: Path,
) -> None:
    good = lines_at(*range(12))
    (tmp_path / "run.lp").write_text("\n".join(good) + "\n")
    sink, clock = OutageSink(), FakeClock()
    sink.after = 2  # two batches written, then down
    replay = make(tmp_path, sink, clock, batch_size=4)
    with pytest.raises(ReplayStopped, match=r"failed for 10 s: .*run.lp:8.*--resume"):
        await replay.run()
    assert sink.lines == good[:8]
    assert replay.delivery.retries >= 3
    assert sum(clock.sleeps) == pytest.approx(10.0)  # retried for exactly --retry-for
    state = load_state(tmp_path / "state.json")
    assert state is not None
    assert (state.line, state.read, state.written) == (8, 8, 8)

    sink.after, sink.down = None, False
    await make(tmp_path, sink, FakeClock(), state=state, batch_size=4).run()
    assert sink.lines == good  # nothing twice, nothing missing


async def test_a_short_outage_is_ridden_out(tmp_path: Path) -> None:
    (tmp_path / "run.lp").write_text("\n".join(lines_at(1, 2)) + "\n")
    sink, clock = MemorySink(), FakeClock()
    sink.fail_next = [RetryableSinkError("down"), RetryableSinkError("down")]
    await make(tmp_path, sink, clock).run()
    assert sink.lines == lines_at(1, 2)
    assert len(clock.sleeps) == 2
    assert 0.4 <= clock.sleeps[0] <= 0.6
    assert 0.8 <= clock.sleeps[1] <= 1.2


async def test_a_throttled_sink_is_left_alone_for_its_retry_after(tmp_path: Path) -> None:
    (tmp_path / "run.lp").write_text("\n".join(lines_at(1)) + "\n")
    sink, clock = MemorySink(), FakeClock()
    sink.fail_next = [ThrottledSinkError("429", retry_after=7.0)]
    await make(tmp_path, sink, clock).run()
    assert clock.sleeps == [7.0]
    assert sink.lines == lines_at(1)


async def test_paced_replay_follows_the_recorded_times(tmp_path: Path) -> None:
    body = lines_at(0, 0, 1, 3) + lines_at(3, device="c2")
    (tmp_path / "run.lp").write_text("\n".join(body) + "\n")
    sink, clock = MemorySink(), FakeClock()
    await make(tmp_path, sink, clock, speed=2.0).run()
    assert clock.sleeps == [pytest.approx(0.5), pytest.approx(1.0)]  # 1 s and 2 s at 2x
    assert sink.writes == 3  # the lines of each recorded instant together
    assert sink.lines == body


async def test_on_error_stop_writes_what_came_before_and_stays_before_the_line(
    tmp_path: Path,
) -> None:
    good = lines_at(1, 2, 3)
    (tmp_path / "run.lp").write_text("\n".join([good[0], good[1], "cell v=x 1", good[2]]) + "\n")
    sink = MemorySink()
    replay = make(tmp_path, sink, FakeClock(), stop_on_error=True)
    with pytest.raises(ReplayStopped, match=r"run\.lp:3: malformed line: bad value of field 'v'"):
        await replay.run()
    assert sink.lines == good[:2]
    state = load_state(tmp_path / "state.json")
    assert state is not None
    assert (state.line, state.read, state.refused) == (2, 2, 0)


class Picky(MemorySink):
    """Refuses, as InfluxDB does, any batch holding a line with `bad`."""

    async def write(self, lines: Sequence[str]) -> None:
        if any("bad" in line for line in lines):
            self.writes += 1
            raise RejectedSinkError("HTTP 400: unable to parse 'bad'", status=400)
        await super().write(lines)


async def test_lines_a_sink_refuses_are_named_counted_and_the_rest_written(
    tmp_path: Path,
) -> None:
    good = lines_at(1, 2, 3, 4)
    refused = f"cell,device=bad v=1 {T0}"
    (tmp_path / "run.lp").write_text("\n".join([*good[:2], refused, *good[2:]]) + "\n")
    sink = Picky()
    replay = make(tmp_path, sink, FakeClock())
    await replay.run()
    assert sink.lines == good
    assert (replay.state.read, replay.state.written, replay.state.refused) == (5, 4, 1)
    assert replay.state.malformed == 0
    notes = replay.progress.stream.getvalue()  # type: ignore[attr-defined]
    assert "run.lp:3: refused by sink memory: HTTP 400: unable to parse" in notes


def test_state_is_written_atomically_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    state = ReplayState(inputs=["/a.lp"], shift_ns=-5, file=0, offset=10, line=2, read=2)
    save_state(path, state)
    assert load_state(path) == state
    assert not (tmp_path / "s.json.tmp").exists()
    assert load_state(tmp_path / "none.json") is None
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(InputError, match="not a replay state"):
        load_state(path)
    assert default_state_path(tmp_path / "run.lp") == tmp_path / "run.lp.replay-state.json"
    assert default_state_path(tmp_path) == tmp_path / ".replay-state.json"


def test_resume_keeps_the_shift_and_refuses_a_state_of_other_input(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = tmp_path / "run.lp"
    run.write_text("\n".join(lines_at(1, 2)) + "\n")
    path = tmp_path / "s.json"
    fresh = prepare_state([run], [Precision.NS], path, False, "now", T0 + 100 * SECOND)
    assert fresh.shift_ns == 98 * SECOND
    save_state(path, fresh)
    with caplog.at_level(logging.INFO, "gateway.replay"):
        again = prepare_state([run], [Precision.NS], path, True, "now", T0 + 900 * SECOND)
    assert again.shift_ns == 98 * SECOND  # a later `now` does not move a resumed run
    assert "the shift of the earlier run is kept" in caplog.text
    other = tmp_path / "other.lp"
    other.write_text("m v=1 1\n")
    with pytest.raises(InputError, match="the replay state is of other input"):
        prepare_state([other], [Precision.NS], path, True, None, 0)


def test_progress_renders_a_bar_on_a_terminal_and_log_lines_otherwise(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert render(500, 50, 100, 10.0) == (
        "[############------------]  50%  500 lines  50 lines/s  ETA 0:10"
    )
    assert describe(500, 50, 100, 10.0) == (
        "replay: 500 lines, 50% of the input, 50 lines/s, ETA 0:10"
    )
    assert [duration(s) for s in (0, 61, 3723, float("inf"))] == ["0:00", "1:01", "1:02:03", "?"]
    clock = FakeClock()
    stream = io.StringIO()
    bar = Progress(100, stream, clock.monotonic, interactive=True)
    clock.advance(1.0)
    bar.update(10, 25)
    bar.note("run.lp:3: malformed line: no fields; skipped")
    bar.finish()
    assert stream.getvalue().startswith("\r[######")
    assert "\r\x1b[Krun.lp:3: malformed line" in stream.getvalue()
    logged = Progress(100, io.StringIO(), clock.monotonic, interactive=False, every=10.0)
    with caplog.at_level(logging.INFO, "gateway.replay"):
        for _ in range(25):
            clock.advance(1.0)
            logged.update(1, 1)
    assert caplog.text.count("replay: 1 lines") == 2  # every 10 s


def test_a_resumed_replay_rates_only_its_own_lines_and_bytes() -> None:
    # 600 lines and half the input done before; 100 lines and 10 % of it in this run's 10 s
    assert render(700, 60, 100, 10.0, before=(600, 50)) == (
        "[##############----------]  60%  700 lines  10 lines/s  ETA 0:40"
    )
    clock = FakeClock()
    stream = io.StringIO()
    bar = Progress(100, stream, clock.monotonic, interactive=True)
    bar.continues(600, 50)
    clock.advance(10.0)
    bar.update(700, 60)
    assert "700 lines  10 lines/s  ETA 0:40" in stream.getvalue()


async def test_a_file_gone_before_its_turn_stops_resumably_after_the_files_before(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.lp").write_text("\n".join(lines_at(1, 2)) + "\n")
    (tmp_path / "b.lp").write_text("\n".join(lines_at(3)) + "\n")
    sink = MemorySink()
    replay = make(tmp_path, sink, FakeClock())
    (tmp_path / "b.lp").unlink()  # rotated away by a file sink meanwhile
    with pytest.raises(ReplayStopped, match=r"b\.lp: cannot read: No such file"):
        await replay.run()
    assert sink.lines == lines_at(1, 2)
    state = load_state(tmp_path / "state.json")
    assert state is not None
    assert (state.file, state.line, state.written) == (0, 2, 2)


class Small(MemorySink):
    """Answers 413 to a write of more than 2 lines."""

    async def write(self, lines: Sequence[str]) -> None:
        if len(lines) > 2:
            self.writes += 1
            raise PayloadTooLargeError("HTTP 413")
        await super().write(lines)


async def test_after_a_413_batches_go_in_pieces_the_sink_takes(tmp_path: Path) -> None:
    good = lines_at(*range(16))
    (tmp_path / "run.lp").write_text("\n".join(good) + "\n")
    sink = Small()
    await make(tmp_path, sink, FakeClock(), batch_size=8).run()
    assert sink.lines == good
    # the first batch: 8 refused, 4 refused, then 2+2, 4 refused, 2+2; the second: 2+2+2+2
    assert sink.writes == 7 + 4
