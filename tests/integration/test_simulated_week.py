"""A long run of the real command line, `python -m simulators plant --speed max --step 10`,
with both servers up and a thinned record: every tag of every device stays in its range of
simulators/tagranges.py (no alarm among them), and the crew's actions are in the record.

The run is one simulated day (10-14 s of wall time here). The full week of the same plant is
tests/unit/test_week_in_range.py: the CLI's runner in-process on a fake clock, every tag of
every device checked every simulated minute (~12 s of CPU for the physics, ~2 s for the
checks). A week of this command is 29-38 s of CPU, mostly the servers and the record of 12
cells, and reading its record back here another ~20 s; SIMULATED_DAYS=7 runs it with the same
checks.
"""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from simulators.catalog import CATALOG, Kind, TagDef
from simulators.record import EVENT, read_frames
from simulators.tagranges import RANGES, out_of_range, unranged

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DAYS = float(os.environ.get("SIMULATED_DAYS", "1"))
CELLS = 12
PRODUCTS = ("Nd", "PrNd", "GdFe")
START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)
EPOCH_NS = int(START.timestamp()) * 10**9


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> tuple[Path, str]:
    record = tmp_path_factory.mktemp("week") / "week.lp.gz"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    # one cell of every product in turn; both servers on free ports
    done = subprocess.run(
        [
            *(sys.executable, "-m", "simulators", "plant", "--speed", "max"),
            *("--duration", f"{DAYS * 24}h", "--step", "10", "--cells", str(CELLS)),
            *("--product", ",".join(PRODUCTS), "--seed", "3", "--start", START.isoformat()),
            *("--modbus-port", "0", "--opcua-port", "0"),
            *("--record", str(record), "--record-every", "60s"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"{DAYS:g} simulated days: {cpu:.1f} s of CPU")  # shown with pytest -s
    assert done.returncode == 0, done.stderr[-2000:]
    return record, done.stderr


@pytest.fixture(scope="module")
def frames(week) -> list:
    return list(read_frames(week[0]))


def test_every_numeric_catalog_tag_has_a_range_with_a_reason(monkeypatch):
    assert unranged() == []
    assert all(r.source for ranges in RANGES.values() for r in ranges.values())
    monkeypatch.setitem(CATALOG, "cell", (*CATALOG["cell"], TagDef("new_tag", Kind.FLOAT)))
    assert unranged() == ["cell.new_tag"]  # a new tag without a range fails the test above


def test_a_long_run_keeps_every_tag_of_every_device_in_its_range(week, frames):
    _, log = week
    assert "Plant running: Modbus modbus+tcp://127.0.0.1:" in log
    assert ", OPC UA opc.tcp://127.0.0.1:" in log
    devices = ["rectifier"] + [
        f"cell{n:02d}{s}" for n in range(1, CELLS + 1) for s in ("", "_feeder")
    ]
    out_of_range_at: dict[str, tuple[float, float, float, int]] = {}
    for ts, frame in frames:
        assert sorted(frame) == sorted(devices)
        for device, (kind, values, bad) in frame.items():
            assert bad == {}, (device, bad)  # no sensor failed
            assert set(values) == {tag.name for tag in CATALOG[kind]}, device
            outside = out_of_range(kind, values, CELLS, EPOCH_NS / 1e9, ts / 1e9)
            for tag, (value, low, high) in outside.items():
                out_of_range_at.setdefault(f"{device}.{tag}", (value, low, high, ts))
            if kind == "cell":
                number = int(device[4:6])
                assert values["product"] == PRODUCTS[(number - 1) % len(PRODUCTS)]
    assert len(frames) == round(DAYS * 24 * 60) + 1  # a line per device and minute, and t = 0
    assert out_of_range_at == {}


def test_the_crews_actions_of_the_run_are_operator_events_of_the_record(week, frames):
    record, _ = week
    taps: Counter[str] = Counter()
    changes: Counter[str] = Counter()
    with gzip.open(record, "rt") as lines:
        for line in lines:
            if line.startswith(EVENT + ","):
                head = line.split(" ", 1)[0]
                device = head.split("device=")[1].split(",")[0]
                if "action=tapped" in head:
                    taps[device] += 1
                elif "action=anode_changed" in head:
                    changes[device] += 1
    last = frames[-1][1]
    for n in range(1, CELLS + 1):
        cell = f"cell{n:02d}"
        assert taps[cell] == last[cell][1]["tap_count"] >= 4 * DAYS
        assert changes[cell] == last[cell][1]["anode_changes"]
