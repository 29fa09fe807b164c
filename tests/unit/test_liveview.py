"""The live view shows what its caller configures: a layout per measurement, else the first
tags of each device as its tag map lists them (no plant names in the core)."""

from __future__ import annotations

import io

from gateway.collectors.modbus.models import ModbusDevice
from gateway.model import Point, Quality, Sample
from gateway.telemetry.liveview import LiveView, MeasurementView, columns_from_maps


def sample(device: str, measurement: str, tag: str, value: object, unit: str = "") -> Sample:
    point = Point.build(device, tag, measurement, tag, {"device": device}, unit)
    return Sample(point, value, Quality.GOOD, 0)  # type: ignore[arg-type]


def test_without_a_layout_the_first_tags_of_the_map_are_shown() -> None:
    device = ModbusDevice.model_validate(
        {
            "name": "press",
            "endpoint": "modbus+tcp://h",
            "tags": [
                {"name": n, "space": "holding_register", "address": i}
                for i, n in enumerate(["speed", "force", "mode", "spare"])
            ],
        }
    )
    assert columns_from_maps([device]) == {"press": ("speed", "force", "mode")}
    view = LiveView("t", io.StringIO(), columns=columns_from_maps([device]))
    view.observe(
        [
            sample("press", "line", "spare", 9),
            sample("press", "line", "speed", 12.345, "rpm"),
            sample("press", "line", "mode", "auto"),
        ]
    )
    row = view.render().splitlines()[2]
    assert row[:31] == "press          -               "
    assert row[31:89].rstrip() == "12.35 rpm  auto"  # no sample of force yet; spare not shown


def test_a_layout_names_states_and_marks_alarm_states() -> None:
    layout = MeasurementView(
        values=(("t", "{:4.1f}"),),
        state_tag="s",
        states=("OK", "HOT"),
        alarm_tag="a",
        alarm_states=frozenset({"HOT"}),
    )
    view = LiveView("t", io.StringIO(), layouts={"oven": layout})
    view.observe([sample("o1", "oven", "t", 80.0), sample("o1", "oven", "s", 1)])
    view.observe([sample("o1", "oven", "a", 5)])
    row = view.render().splitlines()[2]
    assert row.startswith("o1             HOT             80.0")
    assert row.endswith("alarms 0x0005")
    assert "1 in an alarm state, 1 with alarms" in view.summary()


def test_once_reports_many_tags_bad_for_one_reason_in_one_line():
    from gateway.cli import bad_report
    from gateway.model import Point, bad

    points = [Point.build("rect", f"t{i}", "m", f"t{i}", {}) for i in range(5)]
    failed = [bad(p, 0, "not connected: refused") for p in points]
    failed.append(bad(Point.build("cell", "v", "m", "v", {}), 0, "BadSensorFailure"))
    assert bad_report(failed) == [
        "BAD rect: 5 tags (t0, t1, t2, ...): not connected: refused",
        "BAD cell.v: BadSensorFailure",
    ]
