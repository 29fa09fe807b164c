"""The RTU benchmark runs end to end with tiny sizes and writes sane figures (never timed)."""

from __future__ import annotations

import pytest

from tests.bench.conftest import Run, assert_metadata

pytestmark = pytest.mark.e2e


def test_modbus_rtu_counts_samples_against_the_line_limit(run_bench: Run) -> None:
    args = ["--units", "2", "--registers", "4", "--rate", "0.05"]
    out, record = run_bench("modbus_rtu", *args, "--seconds", "2", "--warmup", "0.5")
    assert_metadata(record, "modbus_rtu")
    assert record["scenario"] == {
        "units": 2,
        "registers": 4,
        "baud": 19200,
        "framing": "8N1 RTU",
        "turnaround_s": 0.001,
        "scan_interval_s": 0.05,
    }
    assert record["exit_code"] == 0
    assert record["units_counted"] == 2
    assert record["samples_counted"] > 0
    # a round: 2 reads of 4 registers, 8 + 13 bytes each at 10 bits a character
    assert record["values_per_round"] == 8
    assert record["frames_s_per_round"] == pytest.approx(2 * 21 * 10 / 19200)
    assert record["limit_wire_per_s"] < record["limit_frames_per_s"]
    # the plant paces the line: no run can beat it (a window's edges: one read either way)
    assert 0.1 < record["ratio_vs_wire"] <= 1.1
    assert record["ratio_vs_frames"] < record["ratio_vs_wire"]
    assert "ratio" in out
