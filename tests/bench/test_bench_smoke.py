"""Each benchmark runs end to end with tiny sizes and writes sane figures (never timed)."""

from __future__ import annotations

import math

import pytest

from tests.bench.conftest import Run, assert_metadata

pytestmark = pytest.mark.e2e


def finite_positive(value: object) -> bool:
    return isinstance(value, float | int) and math.isfinite(value) and value > 0


def test_modbus_end_to_end_counts_samples_in_the_database(run_bench: Run) -> None:
    args = ["--devices", "2", "--tags", "50", "--rate", "0.1", "--endpoints", "2"]
    out, record = run_bench("modbus", *args, "--seconds", "2", "--warmup", "0.5")
    assert_metadata(record, "modbus")
    assert record["scenario"]["devices"] == 2
    gateway, floor = record["gateway"], record["floor"]
    assert gateway["exit_code"] == 0
    assert gateway["samples_counted"] > 0
    assert 0.5 < gateway["delivered_fraction"] < 1.2  # 1000 samples/s offered
    assert finite_positive(gateway["cpu_s_per_million"])
    assert gateway["peak_rss_mb"] > 10
    assert 0 <= gateway["jitter_p50_ms"] <= gateway["jitter_p99_ms"] < 1000
    assert 0 < gateway["latency_p50_s"] <= gateway["latency_p99_s"] < 30
    assert floor["samples"] > 0
    assert floor["errors"] == 0
    assert finite_positive(record["cpu_ratio_vs_floor"])
    assert finite_positive(record["per_scan_ratio_vs_floor"])
    assert "gateway / floor CPU per sample" in out


def test_modbus_saturation_steps_down_the_scan_rate(run_bench: Run) -> None:
    args = ["--saturate", "--steps", "2", "--devices", "2", "--tags", "10", "--rate", "0.2"]
    out, record = run_bench(
        "modbus", *args, "--seconds", "1.5", "--warmup", "0.5", result="modbus_saturate"
    )
    assert_metadata(record, "modbus_saturate")
    steps = record["steps"]
    assert [s["interval_s"] for s in steps][:2] == [0.2, 0.1][: len(steps)]
    assert all(s["samples_counted"] > 0 for s in steps)
    assert record["floor_back_to_back"]["samples"] > 0
    assert finite_positive(record["peak_samples_per_s"])
    assert "highest sustained" in out


def test_buffer_reports_persist_drain_and_the_multiple_of_the_live_rate(run_bench: Run) -> None:
    out, record = run_bench("buffer", "--lines", "2000", "--repeat", "1")
    assert_metadata(record, "buffer")
    for key in (
        "sqlite_fsync_off_persist_lines_per_s",
        "sqlite_fsync_on_drain_lines_per_s",
        "modbus_persist_samples_per_s",
        "modbus_drain_samples_per_s",
    ):
        assert finite_positive(record[key]), key
    # no Modbus result in the (temporary) results folder: the offered rate, said so
    assert record["live_samples_per_s"] == 10_000
    assert "offered" in record["live_rate_source"]
    assert record["drain_multiple_of_live"] == record["modbus_drain_samples_per_s"] / 10_000
    assert "target >= 5x" in out


def test_throughput_reports_both_buffers(run_bench: Run) -> None:
    args = ["--devices", "1", "--tags", "20", "--seconds", "0.5", "--backlog-scans", "200"]
    _out, record = run_bench("throughput", *args)
    assert_metadata(record, "throughput")
    for key in (
        "memory_samples_per_s",
        "sqlite_samples_per_s",
        "sqlite_us_cpu_per_sample",
        "backlog_drain_samples_per_s",
    ):
        assert finite_positive(record[key]), key


def test_opcua_compares_with_the_bare_handler(run_bench: Run) -> None:
    args = ["--items", "50", "--cycles", "2", "--interval", "0.2"]
    _out, record = run_bench("opcua", *args)
    assert_metadata(record, "opcua")
    assert record["monitored_items"] == 50
    assert finite_positive(record["cpu_ratio"])
    assert finite_positive(record["gateway_notifications_per_s"])
