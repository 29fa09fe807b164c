"""Input a replay must refuse or read without a traceback: timestamps outside InfluxDB's
int64 range, gzip-compressed recordings (read, resumed, in a directory), and a run of which
every line was refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.replay.lines import check, diagnose
from gateway.replay.reading import last_timestamp

INT64_MAX = 2**63 - 1
LINES = [f"cell,device=c1 v={i}.5 {1_700_000_000_000 + i * 1000}" for i in range(5)]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sinks.yaml"
    path.write_text("devices: []\nsinks:\n  file:\n    directory: out\n")
    return path


def written(tmp_path: Path) -> list[str]:
    return (tmp_path / "out" / "gateway.lp").read_text().splitlines()


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
