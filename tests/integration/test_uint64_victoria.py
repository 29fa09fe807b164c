"""uint64 values at and above 2**63 reach a real database (VictoriaMetrics) through the sink."""

from __future__ import annotations

import pytest

from gateway.model import Point, Quality, Sample
from gateway.sinks import InfluxDBSink, Precision, encode_lines
from tests.vmserver import VictoriaMetrics

pytestmark = pytest.mark.integration

T_MS = 1_700_000_000_123


async def test_uint64_values_are_stored(victoria: VictoriaMetrics) -> None:
    values = {"max": 2**64 - 1, "half": 2**63, "small": 5}
    points = {
        name: Point.build("meter", "energy", "meter", "energy", {"device": name}, unsigned=True)
        for name in values
    }
    lines = encode_lines(
        Sample(points[name], value, Quality.GOOD, T_MS * 1_000_000)
        for name, value in values.items()
    )
    sink = InfluxDBSink(victoria.url, "token", "org", "bucket", precision=Precision.MS)
    try:
        await sink.write(lines)
    finally:
        await sink.close()
    series = await victoria.wait_for_series_async(
        lambda s: len(s) == 6, match='{__name__=~"meter_.*"}'
    )
    stored = {
        s["metric"]["device"]: s["values"]
        for s in series
        if s["metric"]["__name__"] == "meter_energy"
    }
    # VictoriaMetrics keeps numbers as float64: exact below 2**53, nearest float above.
    assert stored["small"] == [5]
    assert stored["max"] == [pytest.approx(2**64 - 1, rel=1e-15)]
    assert stored["half"] == [pytest.approx(2**63, rel=1e-15)]
