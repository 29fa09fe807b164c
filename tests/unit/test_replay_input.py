"""Input a replay must refuse or read without a traceback: timestamps outside InfluxDB's
int64 range, gzip-compressed recordings (read, resumed, in a directory), and a run of which
every line was refused."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.replay.lines import check, diagnose
from gateway.replay.reading import first_timestamp, input_files, last_timestamp, read_lines
from gateway.replay.state import default_state_path
from tests.replayfiles import LINES, sinks_config, written


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return sinks_config(tmp_path)


INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    "stamp", ["9" * 5000, "99999999999999999999", str(INT64_MAX + 1), str(-(2**63) - 1)]
)
def test_a_timestamp_beyond_int64_is_malformed(stamp: str) -> None:
    line = f"big3,device=a v=1 {stamp}"
    assert check(line) is None
    assert "outside InfluxDB's range" in diagnose(line)


def test_int64_bounds_and_negative_timestamps_pass() -> None:
    for stamp in (INT64_MAX, -(2**63), -5):
        assert check(f"m v=1 {stamp}") is not None


def test_a_huge_timestamp_is_named_by_file_and_line_and_not_taken_as_the_last(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.lp"
    run.write_text("\n".join([*LINES, "big3,device=a v=1 " + "9" * 5000, "m v=1 " + "9" * 20]))
    assert last_timestamp(run) == 1_700_000_004_000
    assert main(["replay", str(run), "--config", str(config), "--shift", "now"]) == 0
    out, err = capsys.readouterr()
    assert f"{run}:6: malformed line: timestamp" in err
    assert f"{run}:7: malformed line: timestamp" in err
    assert "Traceback" not in err
    assert "7 lines read, 5 written, 2 refused (2 malformed" in out


def test_a_timestamp_the_shift_moves_beyond_int64_is_malformed(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.lp"
    run.write_text(f"m v=1 {1_700_000_000 * 10**9}\nm v=2 {INT64_MAX - 10}\n")
    args = ["replay", str(run), "--config", str(config), "--shift", "2030-01-01T00:00:00Z"]
    assert main([*args, "--precision", "ns"]) == 0
    out, err = capsys.readouterr()
    assert f"{run}:2: malformed line: timestamp {INT64_MAX - 10} shifted by" in err
    assert "2 lines read, 1 written, 1 refused" in out


def test_a_timestamp_beyond_int64_once_in_ns_is_malformed(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.lp"
    run.write_text(f"m v=1 1700000000\nm v=2 {10**17}\n")
    assert main(["replay", str(run), "--config", str(config), "--precision", "s"]) == 0
    err = capsys.readouterr().err
    assert f"{run}:2: malformed line: timestamp '{10**17}' is outside InfluxDB's range" in err
    assert written(tmp_path) == ["m v=1 1700000000"]


def packed(path: Path, lines: list[str]) -> Path:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    return path


def test_a_gzip_file_reads_as_its_lines_with_offsets_in_the_decompressed_stream(
    tmp_path: Path,
) -> None:
    run = packed(tmp_path / "run.lp.gz", LINES)
    read = list(read_lines(run))
    assert [line.text for line in read] == LINES
    assert [line.number for line in read] == [1, 2, 3, 4, 5]
    after_two = read[1].end
    assert after_two == len(LINES[0]) + len(LINES[1]) + 2
    assert [line.text for line in read_lines(run, after_two, 2)] == LINES[2:]
    assert [line.number for line in read_lines(run, after_two, 2)] == [3, 4, 5]
    assert first_timestamp(run) == 1_700_000_000_000
    assert last_timestamp(run) == 1_700_000_004_000
    renamed = run.rename(tmp_path / "run.bin")  # by its magic bytes, whatever its name
    assert [line.text for line in read_lines(renamed)] == LINES


def test_a_gzip_recording_replays_every_line(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = packed(tmp_path / "w.lp.gz", LINES)
    assert main(["replay", str(run), "--config", str(config), "--shift", "now"]) == 0
    assert "done: 5 lines read, 5 written, 0 refused" in capsys.readouterr().out
    assert len(written(tmp_path)) == 5


def test_a_directory_takes_lp_and_lp_gz_files_in_name_order(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    packed(runs / "a.lp.gz", LINES[:2])
    (runs / "b.lp").write_text(LINES[2] + "\n")
    packed(runs / "c.lp.gz", LINES[3:])
    (runs / "notes.txt").write_text("not replayed")
    assert [p.name for p in input_files(runs)] == ["a.lp.gz", "b.lp", "c.lp.gz"]
    only_gz = tmp_path / "only"
    only_gz.mkdir()
    packed(only_gz / "x.lp.gz", LINES)
    assert [p.name for p in input_files(only_gz)] == ["x.lp.gz"]
    assert main(["replay", str(runs), "--config", str(config)]) == 0
    assert "5 lines read, 5 written" in capsys.readouterr().out
    assert written(tmp_path) == LINES


def test_a_stopped_gzip_replay_resumes_after_its_last_line(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = packed(tmp_path / "w.lp.gz", [*LINES[:3], "cell v=x 1", *LINES[3:]])
    args = ["replay", str(run), "--config", str(config), "--on-error", "stop"]
    assert main(args) == 1
    state = json.loads(default_state_path(run).read_text())
    assert (state["line"], state["offset"]) == (3, sum(len(x) + 1 for x in LINES[:3]))
    packed(run, [*LINES[:3], "cell v=2 1", *LINES[3:]])  # the line fixed, as long as before
    assert main([*args, "--resume"]) == 0
    assert "done: 6 lines read, 6 written, 0 refused" in capsys.readouterr().out
    assert written(tmp_path) == [*LINES[:3], "cell v=2 1", *LINES[3:]]


def test_a_gzip_file_shorter_than_the_state_is_refused_on_resume(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = packed(tmp_path / "w.lp.gz", [*LINES[:3], "cell v=x 1", *LINES[3:]])
    args = ["replay", str(run), "--config", str(config), "--on-error", "stop"]
    assert main(args) == 1
    packed(run, LINES[:1])
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"{run} is shorter than where the replay stood" in err
    assert written(tmp_path) == LINES[:3]


def test_a_gzip_file_cut_short_replays_its_lines_then_stops_resumably(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = gzip.compress(("\n".join(LINES * 200) + "\n").encode(), mtime=0)
    run = tmp_path / "w.lp.gz"
    run.write_bytes(whole[: len(whole) // 2])  # a recording killed while writing
    assert main(["replay", str(run), "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert f"error: {run}: cannot read: compressed stream ends early" in err
    assert "Traceback" not in err
    assert len(written(tmp_path)) > 0
    assert "stopped:" in out


def test_a_replay_of_which_every_line_was_refused_fails(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.lp"
    run.write_bytes(b"cell v=1 \xff\nm v=1\n")
    assert main(["replay", str(run), "--config", str(config)]) == 1
    out, err = capsys.readouterr()
    assert "error: nothing written: all 2 lines read were refused" in err
    assert "done: 2 lines read, 0 written, 2 refused (2 malformed" in out
    empty = tmp_path / "empty.lp"
    empty.write_text("# only a comment\n")
    assert main(["replay", str(empty), "--config", str(config)]) == 0
