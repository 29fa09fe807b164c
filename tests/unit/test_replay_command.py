"""`gateway replay` through the CLI into a file sink configured with --config: malformed lines
named by file:line and counted, --on-error stop, a directory in name order, and the errors of
usage (nowhere to write, a sink writing the file replayed, a bad --shift), SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.replay.state import default_state_path
from tests.replayfiles import LINES, sinks_config, written


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return sinks_config(tmp_path)


def test_malformed_lines_are_named_skipped_and_counted(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.lp"
    body = [LINES[0], "cell,device=c1 v=oops 1700000000500", *LINES[1:3], "", "# note"]
    run.write_text("\n".join([*body, "cell,device=c1 v=1", *LINES[3:]]) + "\n")
    assert main(["replay", str(run), "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert f"{run}:2: malformed line: bad value of field 'v': 'oops'; skipped" in err
    assert f"{run}:7: malformed line: no timestamp" in err
    assert "done: 7 lines read, 5 written, 2 refused (2 malformed, 0 by a sink)" in out
    assert written(tmp_path) == LINES
    assert "Traceback" not in err


def test_on_error_stop_names_the_line_and_exits_non_zero(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.lp"
    run.write_text("\n".join([*LINES[:2], "cell v=1 soon", *LINES[2:]]) + "\n")
    args = ["replay", str(run), "--config", str(config), "--on-error", "stop"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert f"error: {run}:3: malformed line: bad timestamp 'soon'" in err
    assert "stopped: 2 lines read, 2 written, 0 refused" in out
    assert written(tmp_path) == LINES[:2]

    run.write_text("\n".join([*LINES[:2], "cell v=1 1700000001500", *LINES[2:]]) + "\n")
    assert main([*args, "--resume"]) == 0  # the line fixed in place: on from there
    assert written(tmp_path) == [*LINES[:2], "cell v=1 1700000001500", *LINES[2:]]


def test_a_directory_replays_its_files_in_name_order(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "gateway.lp").write_text(LINES[4] + "\n")
    (folder / "gateway-20260101T000001000000.lp").write_text("\n".join(LINES[2:4]) + "\n")
    (folder / "gateway-20260101T000000000000.lp").write_text("\n".join(LINES[:2]) + "\n")
    assert main(["replay", str(folder), "--config", str(config), "--batch-size", "2"]) == 0
    assert "done: 5 lines read, 5 written, 0 refused" in capsys.readouterr().out
    assert written(tmp_path) == LINES
    assert not (folder / ".replay-state.json").exists()


def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("INFLUXDB_V2_URL", raising=False)
    run = tmp_path / "run.lp"
    run.write_text(LINES[0] + "\n")
    assert main(["replay", str(run)]) == 2
    assert "error: nowhere to write: set INFLUXDB_V2_URL" in capsys.readouterr().err

    into_itself = tmp_path / "self.yaml"
    into_itself.write_text(f"devices: []\nsinks:\n  file:\n    directory: {tmp_path}\n")
    (tmp_path / "gateway.lp").write_text(LINES[0] + "\n")
    assert main(["replay", str(tmp_path / "gateway.lp"), "--config", str(into_itself)]) == 2
    assert "which is being replayed" in capsys.readouterr().err

    config = tmp_path / "sinks.yaml"
    config.write_text("devices: []\nsinks:\n  stdout: true\n")
    assert main(["replay", str(run), "--config", str(config), "--shift", "soon"]) == 2
    assert "error: --shift 'soon': expected `now` or an ISO 8601 time" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "none.lp"), "--config", str(config)]) == 2
    assert "none.lp: no such file or directory" in capsys.readouterr().err


def test_sigterm_stops_resumably_like_ctrl_c(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.lp"
    run.write_text("\n".join(LINES) + "\n")  # 1 s apart, paced at real time
    args = ["replay", str(run), "--config", str(config)]
    state = default_state_path(run)
    command = [sys.executable, "-m", "gateway", *args, "--speed", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not state.exists() or json.loads(state.read_text() or "{}").get("line", 0) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no progress in the replay state"
        time.sleep(0.02)  # polling another process's file
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert f"interrupted: run again with --resume to continue after {run.resolve()}:" in err
    assert out.startswith("interrupted: ")

    assert main([*args, "--resume"]) == 0
    assert "done: 5 lines read, 5 written, 0 refused" in capsys.readouterr().out
    lines = written(tmp_path)
    assert set(lines) == set(LINES)
    assert len(lines) - len(LINES) <= 1  # at most the batch in flight, again
