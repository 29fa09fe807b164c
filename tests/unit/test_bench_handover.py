"""Smoke run of bench/handover.py at a small size, so that it cannot rot (no figure is checked)."""

from __future__ import annotations

import pytest

from bench import handover


async def test_the_live_cycle_benchmark_runs(capsys: pytest.CaptureFixture[str]):
    await handover.run(commits=2)
    out = capsys.readouterr().out
    assert "SQL statements per commit" in out
    assert "backlog read back from disk" in out


async def test_the_latency_benchmark_runs(capsys: pytest.CaptureFixture[str]):
    await handover.latency(seconds=1.2)
    assert "latency put -> sink, defaults" in capsys.readouterr().out
