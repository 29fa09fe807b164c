"""Fixtures shared by every test suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.vmserver import VictoriaMetrics


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    """A started VictoriaMetrics (InfluxDB v2 write API) with its data in tmp_path."""
    vm = VictoriaMetrics(tmp_path / "victoria-metrics")
    vm.start()
    try:
        yield vm
    finally:
        vm.stop()
