"""Each `gateway demo` run writes a data file of its own (runs never append to each other); the
bundled maps name the alarm bits the demo shows."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from gateway.demo import plant_clock, run_file_prefix, sinks_for_demo
from gateway.sinks.file import FileSink

UTC = datetime.UTC


def test_the_file_is_named_after_the_start_of_the_run_in_utc() -> None:
    assert run_file_prefix(datetime.datetime(2026, 12, 2, 1, 18, 57, 123, tzinfo=UTC)) == (
        "demo-20261202T011857"
    )
    paris = datetime.timezone(datetime.timedelta(hours=1))
    assert run_file_prefix(datetime.datetime(2026, 12, 2, 2, 18, 57, tzinfo=paris)) == (
        "demo-20261202T011857"
    )


async def test_two_runs_write_two_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INFLUXDB_V2_URL", raising=False)
    for second, line in ((1, "m v=1i 1"), (2, "m v=2i 2")):
        start = datetime.datetime(2026, 12, 2, 1, 0, second, tzinfo=UTC)
        sinks, where = sinks_for_demo(str(tmp_path), run_file_prefix(start))
        (sink,) = sinks
        assert isinstance(sink, FileSink)
        assert where == str(tmp_path / f"demo-20261202T0100{second:02d}.lp")
        await sink.start()
        await sink.write([line])
        await sink.close()
    assert {p.name: p.read_text() for p in tmp_path.glob("*.lp")} == {
        "demo-20261202T010001.lp": "m v=1i 1\n",
        "demo-20261202T010002.lp": "m v=2i 2\n",
    }


def test_plant_time_reads_as_hours_minutes_seconds() -> None:
    assert [plant_clock(s) for s in (0, 91.7, 602, 3725)] == [
        "0:00:00",
        "0:01:31",
        "0:10:02",
        "1:02:05",
    ]


def test_the_bundled_maps_name_the_bits_of_every_alarm_word_the_demo_shows() -> None:
    from gateway.config import load_tagmaps
    from gateway.demo import PLANT_VIEW, find_mappings
    from gateway.telemetry.alarmbits import alarm_bits_from_maps

    devices = load_tagmaps([find_mappings(None)]).devices
    named = alarm_bits_from_maps(devices)
    for device in devices:
        word = PLANT_VIEW[device.measurement].alarm_tag
        assert word is not None
        bits = named[device.name][word]
        assert len(bits) >= 5, (device.name, bits)
        assert all(not name.startswith("bit") for name in bits.values())
    assert named["cell01"]["alarm_word"][0] == "ANODE_EFFECT"
    assert named["rectifier"]["alarms"][1] == "TRIP"
