"""The live view shows what its caller configures: a layout per measurement, else the first
tags of each device as its tag map lists them (no plant names in the core); units and the
names of alarm bits come from the tag maps, rates are averaged over a window."""

from __future__ import annotations

import io

import pytest

from gateway.collectors.modbus.models import ModbusDevice
from gateway.collectors.opcua.models import OpcuaDevice
from gateway.model import Point, Quality, Sample
from gateway.telemetry.alarmbits import alarm_bits_from_maps, decode
from gateway.telemetry.liveview import (
    LiveView,
    MeasurementView,
    columns_from_maps,
    units_from_maps,
)
from gateway.telemetry.samplerate import WindowRate


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def sample(device: str, measurement: str, tag: str, value: object, unit: str = "") -> Sample:
    point = Point.build(device, tag, measurement, tag, {"device": device}, unit)
    return Sample(point, value, Quality.GOOD, 0)  # type: ignore[arg-type]


def press() -> ModbusDevice:
    return ModbusDevice.model_validate(
        {
            "name": "press",
            "endpoint": "modbus+tcp://h",
            "measurement": "line",
            "tags": [
                {"name": n, "space": "holding_register", "address": i, "unit": u}
                for i, (n, u) in enumerate([("speed", "rpm"), ("force", "kN"), ("mode", "")])
            ]
            + [{"name": "spare", "space": "holding_register", "address": 9}],
        }
    )


def cell() -> ModbusDevice:
    """A word with bit tags reading it, as the bundled cell map has, and one on another word."""
    bit = {"space": "input_register", "type": "bit"}
    return ModbusDevice.model_validate(
        {
            "name": "cell01",
            "endpoint": "modbus+tcp://h",
            "measurement": "cell",
            "tags": [
                {"name": "v", "space": "input_register", "address": 0, "unit": "V"},
                {"name": "alarm_word", "space": "input_register", "address": 19},
                {"name": "alarm_ae", "address": 19, "bit": 0, **bit, "description": "w bit: AE"},
                {"name": "alarm_hot", "address": 19, "bit": 3, **bit},
                {"name": "other_bit", "address": 20, "bit": 1, **bit},
            ],
        }
    )


def test_without_a_layout_the_first_tags_of_the_map_are_shown_under_their_units() -> None:
    assert columns_from_maps([press()]) == {"press": ("speed", "force", "mode")}
    view = LiveView(
        "t", io.StringIO(), columns=columns_from_maps([press()]), units=units_from_maps([press()])
    )
    view.observe(
        [
            sample("press", "line", "spare", 9),
            sample("press", "line", "speed", 12.345, "rpm"),
            sample("press", "line", "mode", "auto"),
        ]
    )
    lines = view.render().splitlines()
    assert lines[3].split() == ["line", "speed", "force", "mode", "rate", "bad"]
    assert lines[4].split() == ["rpm", "kN", "samples/s", "samples"]  # units before samples
    assert lines[5].split()[:4] == ["press", "12.35", "-", "auto"]  # no sample of force yet
    assert lines[4].index("rpm") + 3 == lines[5].index("12.35") + 5  # right-aligned under it


def test_the_units_of_the_map_win_and_the_layout_fills_the_gaps() -> None:
    layout = MeasurementView(values=(("speed", "{:.1f}"), ("mode", "")), units={"mode": "-"})
    view = LiveView("t", io.StringIO(), layouts={"line": layout}, units=units_from_maps([press()]))
    view.observe([sample("press", "line", "speed", 3.0), sample("press", "line", "mode", 2)])
    assert view.render().splitlines()[4].split()[:2] == ["rpm", "-"]


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
    row = view.render().splitlines()[5]
    assert row.split()[:3] == ["o1", "HOT", "80.0"]
    assert row.endswith("0x0005")  # a word whose bits the maps do not name
    assert "1 in an alarm state, 1 with alarms" in view.summary()


def test_alarm_bits_are_named_from_bit_tags_and_from_a_listing_description() -> None:
    feeder = OpcuaDevice.model_validate(
        {
            "name": "f1",
            "protocol": "opcua",
            "endpoint": "opc.tcp://h:4840",
            "measurement": "feeder",
            "tags": [
                {"name": "alarms", "node": "ns=2;i=1", "description": "bits: bit0=LOW, bit2=JAM"},
                {"name": "level", "node": "ns=2;i=2", "description": "hopper level"},
            ],
        }
    )
    assert alarm_bits_from_maps([cell(), feeder, press()]) == {
        "cell01": {"alarm_word": {0: "AE", 3: "ALARM_HOT"}},  # other_bit reads another word
        "f1": {"alarms": {0: "LOW", 2: "JAM"}},
    }
    assert decode(0b1101, {0: "LOW", 2: "JAM"}) == ["LOW", "JAM", "bit3"]
    assert decode(0, {0: "LOW"}) == []


def test_the_alarm_word_is_shown_decoded_and_its_changes_listed() -> None:
    clock = FakeClock()
    layout = MeasurementView(values=(("v", "{:.2f}"),), alarm_tag="alarm_word")
    out = io.StringIO()
    view = LiveView(
        "demo",
        out,
        layouts={"cell": layout},
        alarm_bits=alarm_bits_from_maps([cell()]),
        clock=clock,
    )
    view.observe(
        [sample("cell01", "cell", "v", 8.5, "V"), sample("cell01", "cell", "alarm_word", 9)]
    )
    clock.now += 12
    view.observe([sample("cell01", "cell", "alarm_word", 8)])
    lines = view.render().splitlines()
    assert lines[5].endswith("  ALARM_HOT")
    assert lines[-2:] == ["    0 s  cell01  raised AE,ALARM_HOT", "   12 s  cell01  cleared AE"]
    view.draw()
    view.draw()  # off a terminal each change is printed once
    printed = out.getvalue().splitlines()
    assert [ln for ln in printed if "raised" in ln or "cleared" in ln] == [
        "demo: 0 s  cell01  raised AE,ALARM_HOT",
        "demo: 12 s  cell01  cleared AE",
    ]


def test_the_rate_is_averaged_over_the_window_not_jumping_with_the_bursts() -> None:
    # 50 samples every 2 s, drawn every second: per-draw counts would read 50, 0, 50, 0
    rate, total, rates = WindowRate(0.0, window=10.0), 0, []
    for now in range(1, 31):
        total += 50 if now % 2 == 1 else 0
        rates.append(rate.update(float(now), total))
    assert all(r is not None and 24.0 <= r <= 27.5 for r in rates[10:]), rates
    assert rates[:7] == [None, None, None, None, 30.0, 25.0, 200 / 7]  # since the start
    assert rate.span == 10.0
    steady = WindowRate(0.0, window=10.0, settle=1.0)
    assert [steady.update(t, 10 * t) for t in (0.5, 1, 2, 7, 12, 30)] == [
        None,
        10.0,
        10.0,
        10.0,
        10.0,
        10.0,
    ]


def test_the_view_shows_each_device_rate_and_the_total() -> None:
    clock = FakeClock()
    view = LiveView("t", io.StringIO(), columns={"press": ("speed",)}, clock=clock)
    for _ in range(20):
        clock.now += 1
        view.observe([sample("press", "line", "speed", 1.0)] * 4)
        text = view.render()
    assert "80 samples, 4.0 samples/s over the last 10 s" in text
    assert text.splitlines()[5].split()[-2:] == ["4.0", "0"]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_tables_are_cut_to_its_height_and_the_alarms_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import shutil

    monkeypatch.setattr(shutil, "get_terminal_size", lambda: os.terminal_size((80, 10)))
    out = Terminal()
    layout = MeasurementView(alarm_tag="alarm_word")
    bits = {f"d{i}": {"alarm_word": {0: "AE"}} for i in range(9)}
    view = LiveView("t", out, layouts={"m": layout}, alarm_bits=bits, recent_log=lambda: ["w1"])
    view.observe([sample(f"d{i}", "m", "alarm_word", 1 if i == 3 else 0) for i in range(9)])
    view.draw()
    written = out.getvalue()
    assert written.startswith("\033[H")
    assert written.endswith("\n\033[J")
    shown = written.removeprefix("\033[H").removesuffix("\033[J").replace("\033[K", "")
    shown = shown.splitlines()
    assert len(shown) == 9  # the terminal's height less the line the cursor rests on
    assert shown[0].startswith("t   up ")
    assert shown[2] == "... 12 more lines: a taller terminal shows them all"
    assert shown[3:] == [
        "",
        "alarms raised and cleared (s since start):",
        "    0 s  d3  raised AE",
        "",
        "latest warnings and errors of the log:",
        "w1",
    ]


def test_the_smallest_table_comes_first() -> None:
    view = LiveView("t", io.StringIO(), columns={})
    view.observe([sample(f"cell{i}", "cell", "v", 1.0) for i in range(3)])
    view.observe([sample("rectifier", "rectifier", "v", 1.0)])
    firsts = [ln.split()[0] for ln in view.render().splitlines()[2:] if ln]
    assert firsts[:4] == ["rectifier", "samples/s", "rectifier", "cell"]  # header, units, row


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
