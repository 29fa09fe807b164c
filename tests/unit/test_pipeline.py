"""Pipeline stages: scale, quality, deadband with heartbeat."""

from __future__ import annotations

import math

import pytest

from gateway.collectors.modbus.compile import compile_tag
from gateway.collectors.modbus.models import ModbusDevice
from gateway.model import Point, Quality, Sample, bad
from gateway.pipeline import build_pipeline
from gateway.testing import FakeClock

SECOND = 1_000_000_000


def tag_plan(**tag):
    base = {"name": "t", "space": "input_register", "address": 0}
    device = ModbusDevice.model_validate(
        {"name": "d", "endpoint": "modbus+tcp://127.0.0.1:5020", "tags": [{**base, **tag}]}
    )
    return compile_tag(device.tags[0], device)


def run(plan, *values_and_times):
    """Each (value, t) read at time t (ns) of both clocks, wall and monotonic."""
    clock = FakeClock()
    pipeline = build_pipeline([plan], clock=clock)
    out = []
    for value, t in values_and_times:
        clock.mono = t / SECOND
        sample = (
            bad(plan.point, t, value)
            if isinstance(value, str) and value.startswith("!")
            else Sample(plan.point, value, Quality.GOOD, t)
        )
        out.extend(pipeline.apply([sample]))
    return out


def test_factor_offset_scaling():
    plan = tag_plan(type="int16", scale={"factor": 0.1, "offset": -5})
    (s,) = run(plan, (123, 0))
    assert s.value == pytest.approx(7.3)
    assert isinstance(s.value, float)


def test_range_scaling_maps_raw_onto_engineering_units():
    # 4-20 mA as 0..27648 raw onto 0..1200 degC: raw 13824 is half way: 600 degC
    plan = tag_plan(scale={"raw": [0, 27648], "eng": [0, 1200]})
    (s,) = run(plan, (13824, 0))
    assert s.value == pytest.approx(600.0)
    (s,) = run(plan, (6912, 0))
    assert s.value == pytest.approx(300.0)


def test_unscaled_integer_stays_an_integer():
    (s,) = run(tag_plan(type="uint32"), (100000, 0))
    assert s.value == 100000
    assert isinstance(s.value, int)


def test_nan_becomes_bad_and_carries_no_value():
    (s,) = run(tag_plan(type="float32"), (math.nan, 0))
    assert s.quality is Quality.BAD
    assert s.value is None
    assert s.reason == "not a finite number (nan)"


def test_out_of_range_is_uncertain_but_keeps_its_value():
    plan = tag_plan(type="float32", range=[900, 1100])
    ok, high = run(plan, (1050.0, 0), (1150.0, 1))
    assert ok.quality is Quality.GOOD
    assert high.quality is Quality.UNCERTAIN
    assert high.value == 1150.0
    assert high.reason == "out of range [900, 1100]"


def test_range_is_checked_after_scaling():
    plan = tag_plan(type="int16", scale={"factor": 0.1}, range=[0, 100])
    (s,) = run(plan, (999, 0))  # 99.9 in engineering units
    assert s.quality is Quality.GOOD


def test_absolute_deadband_suppresses_small_moves():
    plan = tag_plan(type="float32", deadband={"absolute": 0.5})
    out = run(plan, (10.0, 0), (10.3, 1), (10.5, 2), (10.6, 3), (9.9, 4))
    # 10.3 and 10.5 are within 0.5 of 10.0; 10.6 is not; 9.9 is 0.7 from 10.6
    assert [s.value for s in out] == [10.0, 10.6, 9.9]


def test_percent_deadband_uses_the_engineering_span():
    plan = tag_plan(type="float32", range=[0, 200], deadband={"percent": 1})  # 2.0 units
    out = run(plan, (100.0, 0), (101.9, 1), (102.1, 2))
    assert [s.value for s in out] == [100.0, 102.1]


def test_heartbeat_writes_an_unchanged_value_with_its_own_timestamp():
    plan = tag_plan(type="float32", deadband={"absolute": 1}, heartbeat="10s")
    times = [0, 5 * SECOND, 9 * SECOND, 10 * SECOND, 15 * SECOND, 20 * SECOND]
    out = run(plan, *[(50.0, t) for t in times])
    assert [s.time_ns for s in out] == [0, 10 * SECOND, 20 * SECOND]


def test_heartbeat_runs_on_monotonic_time_when_the_wall_clock_steps():
    plan = tag_plan(type="float32", deadband={"absolute": 1}, heartbeat="1m")
    clock = FakeClock()
    pipeline = build_pipeline([plan], clock=clock)

    def scan() -> list[Sample]:
        return pipeline.apply([Sample(plan.point, 50.0, Quality.GOOD, clock.now_ns())])

    assert len(scan()) == 1
    clock.wall_ns -= 3600 * SECOND  # the wall clock steps back an hour
    clock.advance(30)
    assert scan() == []
    clock.advance(30)  # a minute after the last write, whatever the wall clock says
    (beat,) = scan()
    assert beat.time_ns == clock.now_ns()  # the sample keeps its wall-clock timestamp
    clock.wall_ns += 7200 * SECOND  # and forward two hours: no early heartbeat
    clock.advance(1)
    assert scan() == []
    clock.advance(59)
    assert len(scan()) == 1


def test_quality_change_always_passes_the_deadband():
    plan = tag_plan(type="float32", deadband={"absolute": 100})
    out = run(plan, (1.0, 0), ("!timeout", 1), ("!timeout", 2), (1.0, 3))
    assert [(s.quality, s.value) for s in out] == [
        (Quality.GOOD, 1.0),
        (Quality.BAD, None),
        (Quality.GOOD, 1.0),
    ]


def test_without_deadband_every_sample_passes():
    plan = tag_plan(type="float32")
    assert len(run(plan, (1.0, 0), (1.0, 1), (1.0, 2))) == 3


def test_heartbeat_alone_writes_on_change_and_at_the_heartbeat():
    plan = tag_plan(type="uint16", heartbeat="1m")
    out = run(plan, (1, 0), (1, SECOND), (2, 2 * SECOND), (2, 61 * SECOND), (2, 62 * SECOND))
    assert [(s.value, s.time_ns) for s in out] == [(1, 0), (2, 2 * SECOND), (2, 62 * SECOND)]


def test_pipeline_counts_what_it_received_and_passed():
    plan = tag_plan(type="float32", deadband={"absolute": 1})
    pipeline = build_pipeline([plan])
    pipeline.apply([Sample(plan.point, 1.0, Quality.GOOD, t) for t in range(5)])
    assert (pipeline.received, pipeline.passed) == (5, 1)


def test_points_are_compared_by_identity():
    a = Point.build("d", "t", "m", "f", {})
    b = Point.build("d", "t", "m", "f", {})
    assert a != b
    assert len({a, b}) == 2
