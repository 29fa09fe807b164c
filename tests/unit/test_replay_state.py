"""The replay state as found on disk: corrupt (refused with one line under --resume,
overwritten without it), shared by two replays (the second refused), unwritable (named)."""

from __future__ import annotations

import fcntl
import io
import json
import logging
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.replay.engine import Options, Replay, ReplayStopped
from gateway.replay.progress import Progress
from gateway.replay.sending import Delivery
from gateway.replay.state import ReplayState, default_state_path
from gateway.sinks.lineprotocol import Precision
from gateway.sinks.memory import MemorySink
from gateway.testing import FakeClock

LINES = [f"cell,device=c1 v={i}.5 {1_700_000_000_000 + i * 1000}" for i in range(5)]
CORRUPT = {
    "a list": "[]",
    "inputs of a wrong type": '{"version": 1, "inputs": 5}',
    "a count of a wrong type": '{"version": 1, "inputs": [], "read": "many"}',
    "an unknown field": '{"version": 1, "inputs": [], "colour": 1}',
    "a negative offset": '{"version": 1, "inputs": [RUN], "offset": -5}',
    "a file past the inputs": '{"version": 1, "inputs": [RUN], "file": 2}',
    "not JSON": "{",
}


@pytest.fixture
def run(tmp_path: Path) -> Path:
    path = tmp_path / "run.lp"
    path.write_text("\n".join(LINES) + "\n")
    (tmp_path / "sinks.yaml").write_text("devices: []\nsinks:\n  file:\n    directory: out\n")
    return path


def replay(run: Path, *extra: str) -> int:
    return main(["replay", str(run), "--config", str(run.parent / "sinks.yaml"), *extra])


@pytest.mark.parametrize("text", CORRUPT.values(), ids=CORRUPT.keys())
def test_a_corrupt_state_is_refused_in_one_line_under_resume(
    run: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    state = default_state_path(run)
    text = text.replace("RUN", json.dumps(str(run.resolve())))  # a state of this input
    state.write_text(text)
    assert replay(run, "--resume") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (message,) = [line for line in err.splitlines() if line.startswith("error:")]
    assert message.startswith(f"error: {state}: ")
    assert message.endswith("delete it, or run without --resume")
    assert state.read_text() == text  # left for the user to look at


@pytest.mark.parametrize("text", CORRUPT.values(), ids=CORRUPT.keys())
def test_without_resume_a_corrupt_state_is_overwritten_with_a_warning(
    run: Path, text: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    state = default_state_path(run)
    state.write_text(text)
    with caplog.at_level(logging.WARNING, "gateway.replay"):
        assert replay(run) == 0
    assert f"{state}: " in caplog.text
    assert "overwritten" in caplog.text
    assert "done: 5 lines read, 5 written" in capsys.readouterr().out
    assert not state.exists()


def test_a_second_replay_on_the_same_state_is_refused(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = default_state_path(run)
    with open(f"{state}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert replay(run) == 2
    err = capsys.readouterr().err
    assert f"error: another replay is using {state}" in err
    assert not (run.parent / "out").exists()
    assert replay(run) == 0  # released
    assert not Path(f"{state}.lock").exists()


async def test_a_state_that_cannot_be_written_is_named_not_the_input(tmp_path: Path) -> None:
    run = tmp_path / "run.lp"
    run.write_text("\n".join(LINES) + "\n")
    clock = FakeClock()
    replayer = Replay(
        [run],
        [Precision.MS],
        Delivery([MemorySink("db")], clock, retry_for=1.0),
        ReplayState(inputs=[str(run)]),
        tmp_path / "gone" / "state.json",  # its directory does not exist
        Options(batch_size=2),
        clock,
        Progress(1, io.StringIO(), clock.monotonic, interactive=False),
    )
    with pytest.raises(ReplayStopped) as stopped:
        await replayer.run()
    message = str(stopped.value)
    assert message.startswith(f"{tmp_path / 'gone' / 'state.json'}: cannot write the state")
    assert f"{run}:" not in message


def test_a_state_in_a_missing_directory_is_one_line(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = run.parent / "absent" / "state.json"
    assert replay(run, "--state", str(state)) == 2
    err = capsys.readouterr().err
    assert f"error: {state}.lock: cannot create the lock: No such file or directory" in err
    assert "--state PATH" in err
