"""`gateway replay` of a simulator recording into a real VictoriaMetrics (InfluxDB v2 write
API): exactly the recorded points, twice the same points, a resume after SIGKILL without
duplicates or holes, an outage that stops resumably, shifted timestamps, a directory of files
with different precisions.

VictoriaMetrics stores each field as `<measurement>_<field>` with millisecond timestamps,
bools as 1/0 and string fields as 0. Unlike InfluxDB it keeps a point written twice twice
(no deduplication unless configured), so the tests compare the distinct (time, value) pairs
and bound the repeated ones: a batch in flight when the replay was killed is sent again.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.replay.state import default_state_path, load_state
from gateway.sinks.lineprotocol import parse_line
from gateway.testing import FakeClock
from simulators.process.plant import Plant
from simulators.record import Recorder
from simulators.runner import PlantRunner
from simulators.scenario import Scenario
from tests.vmserver import VictoriaMetrics

pytestmark = pytest.mark.integration

Points = dict[tuple[str, str], dict[int, float]]  # (metric, device): {ms: value}

FAULT = Scenario.model_validate(
    {"events": [{"at": 5, "fault": "thermocouple_open", "target": "cell01"}]}
)
LINES = 155  # 31 instants (0..30 s) of 5 devices: the rectifier, 2 cells, 2 feeders


async def record(path: Path) -> Path:
    """30 s of a 2-cell plant, an open thermocouple (a string field) from 5 s on."""
    plant = Plant(cells=2, seed=4)
    recorder = Recorder(path)
    runner = PlantRunner(
        plant, speed=None, duration=30.0, scenario=FAULT, recorder=recorder, clock=FakeClock()
    )
    await runner.run()
    recorder.close()
    return path


@pytest.fixture
async def recording(tmp_path: Path) -> Path:
    return await record(tmp_path / "run.lp")


@pytest.fixture
def into(victoria: VictoriaMetrics, monkeypatch: pytest.MonkeyPatch) -> VictoriaMetrics:
    """The environment points `gateway replay` at `victoria`."""
    for name, value in {"URL": victoria.url, "TOKEN": "t", "ORG": "o", "BUCKET": "b"}.items():
        monkeypatch.setenv(f"INFLUXDB_V2_{name}", value)
    return victoria


def recorded(path: Path, offset_ns: int = 0) -> Points:
    """What VictoriaMetrics should hold of a recording, moved by `offset_ns`."""
    points: Points = {}
    raw = path.read_bytes()
    for text in (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode().splitlines():
        measurement, tags, fields, ns = parse_line(text)
        for field, value in fields.items():
            number = 0.0 if isinstance(value, str) else float(value)  # type: ignore[arg-type]
            key = (f"{measurement}_{field}", tags["device"])
            points.setdefault(key, {})[(ns + offset_ns) // 10**6] = number
    return points


def stored(vm: VictoriaMetrics) -> tuple[Points, Counter[tuple[str, str]]]:
    """The distinct points held, and how many raw samples repeat one of them per series."""
    points: Points = {}
    repeats: Counter[tuple[str, str]] = Counter()
    for series in vm.export():
        key = (series["metric"]["__name__"], series["metric"]["device"])
        held = points.setdefault(key, {})
        for ms, value in zip(series["timestamps"], series["values"], strict=True):
            if ms in held:
                assert held[ms] == value, f"{key} at {ms}: two different values"
                repeats[key] += 1
            held[ms] = value
    return points, repeats


def assert_same(got: Points, expected: Points) -> None:
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        assert got[key].keys() == values.keys(), key
        for ms, value in values.items():  # VictoriaMetrics keeps ~12 significant digits
            assert got[key][ms] == pytest.approx(value, rel=1e-9, abs=1e-9), (key, ms)


def test_replay_stores_exactly_the_recorded_points_and_twice_the_same(
    recording: Path, into: VictoriaMetrics, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(recording)]) == 0
    assert f"done: {LINES} lines read, {LINES} written, 0 refused" in capsys.readouterr().out
    expected = recorded(recording)
    assert ("cell_bath_temp_status", "cell01") in expected  # a string field: stored as 0
    points, repeats = stored(into)
    assert_same(points, expected)
    assert sum(len(v) for v in points.values()) == sum(len(v) for v in expected.values())
    assert not repeats
    assert not default_state_path(recording).exists()  # removed at the end

    assert main(["replay", str(recording), "--batch-size", "7"]) == 0
    again, repeats = stored(into)
    assert_same(again, expected)  # the same points; each one written twice, identically
    assert all(repeats[key] == len(values) for key, values in expected.items())


@pytest.fixture
async def packed(tmp_path: Path) -> Path:
    return await record(tmp_path / "run.lp.gz")  # the simulator compresses a .gz name


def test_a_compressed_recording_stores_the_same_points(
    packed: Path, into: VictoriaMetrics, capsys: pytest.CaptureFixture[str]
) -> None:
    assert packed.read_bytes()[:2] == b"\x1f\x8b"
    assert main(["replay", str(packed), "--batch-size", "50"]) == 0
    assert f"done: {LINES} lines read, {LINES} written, 0 refused" in capsys.readouterr().out
    points, repeats = stored(into)
    assert_same(points, recorded(packed))
    assert not repeats


def test_a_killed_replay_resumes_without_duplicates_or_holes(
    recording: Path, into: VictoriaMetrics, capsys: pytest.CaptureFixture[str]
) -> None:
    state = default_state_path(recording)
    # paced at 5x: 0.2 s an instant, so that it is killed halfway
    command = [sys.executable, "-m", "gateway", "replay", str(recording), "--speed", "5"]
    process = subprocess.Popen(command, env=dict(os.environ), stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while (now := load_state_quietly(state)) is None or now.line < 20:
            assert process.poll() is None, "the replay ended before it was killed"
            assert time.monotonic() < deadline, "no progress in the replay state"
            time.sleep(0.02)  # polling another process's file
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait()
    partial, _ = stored(into)
    killed = load_state(state)
    assert killed is not None
    assert 20 <= killed.line < LINES
    assert (
        0
        < sum(len(v) for v in partial.values())
        < sum(len(v) for v in recorded(recording).values())
    )

    assert main(["replay", str(recording), "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"done: {LINES} lines read, {LINES} written, 0 refused" in out  # both runs
    points, repeats = stored(into)
    assert_same(points, recorded(recording))  # no hole
    assert max(repeats.values(), default=0) <= 1  # at most the instant in flight, again


def load_state_quietly(path: Path) -> object:
    try:
        return load_state(path)
    except Exception:  # being replaced right now
        return None


def test_an_outage_stops_with_a_resumable_state_and_the_resume_completes(
    recording: Path,
    into: VictoriaMetrics,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = into.url
    into.stop()  # nothing listens there now
    code = main(["replay", str(recording), "--batch-size", "20", "--retry-for", "0.3"])
    err = capsys.readouterr().err
    assert code == 1
    assert "error: sink influxdb failed for 0.3 s: influxdb: cannot reach" in err
    assert "run again with --resume" in err
    assert "Traceback" not in err
    assert load_state(default_state_path(recording)) is not None

    into.restart()
    monkeypatch.setenv("INFLUXDB_V2_URL", url)
    assert main(["replay", str(recording), "--resume", "--batch-size", "20"]) == 0
    points, repeats = stored(into)
    assert_same(points, recorded(recording))
    assert not repeats


def test_shift_moves_the_run_to_start_at_a_time_or_to_end_now(
    recording: Path, into: VictoriaMetrics
) -> None:
    first_ns = 1_700_000_000 * 10**9  # FakeClock's epoch: the recording's first instant
    start_ns = 1_748_736_000 * 10**9  # 2025-06-01T00:00:00Z
    assert main(["replay", str(recording), "--shift", "2025-06-01T00:00:00Z"]) == 0
    points, _ = stored(into)
    assert_same(points, recorded(recording, start_ns - first_ns))

    before = time.time_ns()
    assert main(["replay", str(recording), "--shift", "now"]) == 0
    after = time.time_ns()
    total = 2 * sum(len(v) for v in recorded(recording).values())
    into.wait_for_series(lambda series: sum(len(s["values"]) for s in series) >= total)
    both, _ = stored(into)  # the newest points show up after a moment
    last_ns = first_ns + 30 * 10**9
    now = {
        key: {ms: v for ms, v in values.items() if ms * 10**6 > start_ns + 10**12}
        for key, values in both.items()
    }
    end = max(max(v) for v in now.values()) * 10**6
    assert before // 10**6 * 10**6 <= end <= after
    assert_same(now, recorded(recording, end - last_ns))


def test_a_directory_replays_its_files_each_in_its_own_precision(
    tmp_path: Path, into: VictoriaMetrics, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    # the demo's file sink (ms), a rotated file and the current one, and a recording (ns)
    (folder / "gateway-20260101T000000000000.lp").write_text(
        "cell,device=cell01 voltage=4.0,voltage_quality=0i 1767225600000\n"
    )
    (folder / "gateway.lp").write_text(
        "cell,device=cell01 voltage=4.5,voltage_quality=0i 1767225601000\n"
    )
    (folder / "run.lp").write_text("cell,device=cell01 voltage=5.0 1767225602000000000\n")
    assert main(["replay", str(folder)]) == 0
    assert "done: 3 lines read, 3 written" in capsys.readouterr().out
    points, _ = stored(into)
    assert points[("cell_voltage", "cell01")] == {
        1767225600000: 4.0,
        1767225601000: 4.5,
        1767225602000: 5.0,
    }
