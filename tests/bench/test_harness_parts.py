"""The pure parts of the Modbus benchmark and its process accounting."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import cserver, dbprobe, procstat, results
from bench.modbus import shorter
from bench.modbus_run import gateway_command


def test_lateness_is_measured_from_the_most_punctual_scan_of_a_group() -> None:
    times = {"a": [1000, 2003, 3001, 4010], "b": [1005, 2005]}
    per_device = dbprobe.lateness_ms(times, {"a": 0, "b": 1}, 1.0)
    assert sorted(per_device) == [0, 0, 0, 1, 3, 10]
    shared = dbprobe.lateness_ms(times, {"a": 0, "b": 0}, 1.0)  # one connection's schedule
    assert sorted(shared) == [0, 1, 3, 5, 5, 10]


def test_lateness_copes_with_a_grid_phase_near_the_interval_boundary() -> None:
    # scans due at 99.999 s + k: some land just before a whole second, some just after
    times = {"a": [99_999, 101_001, 101_999, 103_000]}
    assert sorted(dbprobe.lateness_ms(times, {"a": 0}, 1.0)) == [0, 0, 1, 2]


def test_a_tail_of_late_scans_does_not_move_the_grid() -> None:
    # punctual scans at phase 0 of a 100 ms grid, two scans 40 and 70 ms late
    stamps = [5000 + 100 * k + late for k, late in enumerate([0, 1, 2, 0, 1, 3, 40, 70])]
    got = dbprobe.lateness_ms({"a": stamps}, {"a": 0}, 0.1)
    assert got == [0, 1, 2, 0, 1, 3, 40, 70]


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert dbprobe.percentile(values, 50) == 50
    assert dbprobe.percentile(values, 99) == 99
    assert math.isnan(dbprobe.percentile([], 50))


def test_saturation_steps_follow_the_1_2_5_series() -> None:
    steps = [1.0]
    while steps[-1] > 0.001:
        steps.append(shorter(steps[-1]))
    assert steps == [1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001]
    assert shorter(0.3) == 0.2


def test_workers_are_passed_to_gateway_run_only_when_given() -> None:
    assert "--workers" not in gateway_command(Path("m.yaml"), None)
    command = gateway_command(Path("m.yaml"), 2)
    assert command[-4:] == ["run", "m.yaml", "--workers", "2"]


def test_cpu_and_memory_are_summed_over_the_process_tree() -> None:
    burn = "import time; t = time.process_time(); x = bytearray(40 << 20)\n"
    burn += "while time.process_time() - t < 0.3: pass\ntime.sleep(30)"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])",
        ]
    )
    try:
        deadline = time.monotonic() + 20
        while procstat.cpu_seconds(parent.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(procstat.tree(parent.pid)) == 2
        assert procstat.cpu_seconds(parent.pid) >= 0.3  # the child's, while it runs
        assert procstat.peak_rss_bytes(parent.pid) > 40 << 20
    finally:
        for pid in procstat.tree(parent.pid)[1:]:
            subprocess.run(["kill", str(pid)], check=False)
        parent.wait(10)


def test_the_server_is_rebuilt_when_its_source_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "modbus_server.c"
    source.write_bytes(cserver.SOURCE.read_bytes())
    monkeypatch.setattr(cserver, "SOURCE", source)
    monkeypatch.setattr(cserver, "cache_dir", lambda: tmp_path / "cache")
    first = cserver.build()
    assert cserver.build() == first  # cached
    source.write_text(source.read_text() + "\n/* changed */\n")
    second = cserver.build()
    assert second != first
    assert second.exists()


def test_results_go_where_bench_results_dir_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path))
    assert results.latest("probe") is None
    results.write("probe", {"x": 1})
    path = results.write("probe", {"x": 2})
    assert path == tmp_path / "probe.jsonl"
    assert len(path.read_text().splitlines()) == 2  # appended
    latest = results.latest("probe")
    assert latest is not None
    assert latest["x"] == 2
    assert latest["git_revision"]


def test_the_latency_probe_asks_for_fresh_points_and_keeps_the_shifted_query_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[dict[str, str] | None] = []

    def answer(url: str, path: str, params: dict[str, str] | None = None) -> bytes:
        asked.append(params)
        return b'{"data": {"result": []}}'

    monkeypatch.setattr(dbprobe, "_get", answer)
    dbprobe._query("http://db", "up", fresh=True)
    dbprobe._query("http://db", "up")
    assert [p and p.get("nocache") for p in asked] == ["1", None]


def test_the_latency_probe_times_the_databases_own_delay_with_a_point_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[int] = []
    visible: list[float] = []  # what the database answers for the probe's own series

    def query(url: str, promql: str, at: float | None = None, fresh: bool = False) -> list:
        assert fresh
        assert dbprobe.MARK_SERIES in promql
        return [{"metric": {}, "value": [0, str(v)]} for v in visible]

    monkeypatch.setattr(dbprobe, "_write_mark", lambda url, stamp: written.append(stamp))
    monkeypatch.setattr(dbprobe, "_query", query)
    probe = dbprobe.LatencyProbe("http://db")
    probe.recording = True
    probe._time_mark()  # writes its point
    probe._time_mark()  # not visible yet
    assert len(written) == 1
    assert probe.db_delays == []
    visible.append(written[0] / 1000)
    probe._time_mark()  # seen: one delay, and no new point before MARK_EVERY_S
    probe._time_mark()
    assert len(written) == 1
    assert len(probe.db_delays) == 1
