"""Smoke runs of the benchmarks: each one as its command, tiny sizes, results in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

Run = Callable[..., tuple[str, dict[str, Any]]]


@pytest.fixture
def run_bench(tmp_path: Path) -> Run:
    """`python -m bench.<name> ARGS` with BENCH_RESULTS_DIR=tmp_path: (stdout, last record)."""

    def run(
        name: str, *args: str, result: str | None = None, timeout: float = 90
    ) -> tuple[str, dict[str, Any]]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "BENCH_RESULTS_DIR": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "-m", f"bench.{name}", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        lines = (tmp_path / f"{result or name}.jsonl").read_text().splitlines()
        assert len(lines) == 1  # one run, one line appended
        return done.stdout, json.loads(lines[0])

    return run


def assert_metadata(record: dict[str, Any], name: str) -> None:
    assert record["benchmark"] == name
    assert record["date"].startswith("20")
    assert record["git_revision"] not in ("", "unknown")
    machine = record["machine"]
    assert machine["cores"] >= 1
    assert machine["cpu_model"]
    assert machine["python"].count(".") == 2
    assert machine["packages"]["pymodbus"]
