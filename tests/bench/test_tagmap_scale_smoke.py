"""A tiny run of `python -m bench.tagmap_scale`, so that the benchmark cannot rot. Its
figures are printed and written, never asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MEASURED = {"wall_s", "cpu_s", "peak_rss_mb", "exit"}


def test_tagmap_scale_runs_and_writes_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "tagmap_scale.json"
    args = ["--devices", "3", "--tags", "10", "--run-for", "0.5", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.tagmap_scale", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text(encoding="utf-8"))
    assert {"date", "revision", "machine", "devices", "tags_per_device"} <= results.keys()
    assert results["machine"]["cores"] >= 1
    for variant in ("yaml", "csv"):
        entry = results[variant]
        for step in ("c_loader", "check", "run"):
            assert entry[step].keys() >= MEASURED, (variant, step)
        assert entry["check"]["exit"] == 0, entry["check"]
        assert {"first_connection_s", "start_cpu_s", "start_peak_rss_mb"} <= entry["run"].keys()
        assert {"check_vs_c_loader", "run_start_vs_c_loader"} <= entry.keys()
        written = entry["run_influxdb"]  # the InfluxDB sink, answering servers
        assert written.keys() >= MEASURED | {"start_peak_rss_mb", "end_rss_mb"}, written
        assert written["lines_written"] > 0
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == ["yaml", "csv"]
