"""Data-quality faults (simulators/sensorfaults.py): the reported values, determinism per
seed, and a clear one-line error for every bad fault spec (command line and scenario)."""

from __future__ import annotations

import pytest

from simulators.cli import main
from simulators.process.plant import Plant
from simulators.scenario import Scenario, check_scenario
from simulators.sensorfaults import SensorFaults

KINDS = {"cell01": "cell", "cell01_feeder": "feeder", "rectifier": "rectifier"}


def faults(seed: int = 0) -> SensorFaults:
    return SensorFaults(KINDS, seed=seed)


def test_drift_adds_its_rate_per_hour_from_the_onset_and_ends_after_its_for():
    f = faults()
    f.inject("drift", "cell01.bath_temp", {"rate": "-4", "for": "2h"}, t=600.0)
    read = lambda t: f.reported("cell01", {"bath_temp": 1050.0, "acd": 9.0}, t)  # noqa: E731
    assert read(0.0)["bath_temp"] == 1050.0
    assert read(600.0 + 1800.0)["bath_temp"] == pytest.approx(1048.0)
    assert read(600.0 + 7199.0)["bath_temp"] == pytest.approx(1050.0 - 4 * 7199 / 3600)
    assert read(600.0 + 7200.0)["bath_temp"] == 1050.0  # over after 2 h
    assert read(1000.0)["acd"] == 9.0  # other tags untouched


def test_spikes_are_one_second_long_about_every_interval_and_seeded():
    def spiked(seed: int) -> list[int]:
        f = faults(seed)
        f.inject("spike", "cell01.cell_voltage", {"size": 20, "every": "1m"}, t=0.0)
        return [
            s
            for s in range(6000)
            if f.reported("cell01", {"cell_voltage": 9.0}, s)["cell_voltage"] == 29.0
        ]

    first = spiked(1)
    assert first == spiked(1)
    assert first != spiked(2)
    assert 60 <= len(first) <= 140  # 100 expected in 6000 s at one a minute


def test_stuck_frozen_and_counters_hold_or_count_from_the_onset():
    f = faults()
    f.inject("stuck", "cell01.cell_voltage", {}, t=10.0)
    f.inject("frozen", "cell01_feeder.hopper_weight", {}, t=10.0)
    f.inject("counter_reset", "rectifier.energy_total", {}, t=10.0)
    f.inject("counter_wrap", "cell01_feeder.shot_count", {"bits": 4}, t=0.0)
    assert f.reported("cell01", {"cell_voltage": 8.7}, 10.0)["cell_voltage"] == 8.7
    assert f.reported("cell01", {"cell_voltage": 9.9}, 99.0)["cell_voltage"] == 8.7
    assert f.stuck("cell01", "cell_voltage", 99.0)
    feeder = {"hopper_weight": 120.0, "shot_count": 3}
    assert f.reported("cell01_feeder", feeder, 10.0) == feeder
    later = f.reported("cell01_feeder", {"hopper_weight": 100.0, "shot_count": 21}, 50.0)
    assert later == {"hopper_weight": 120.0, "shot_count": 21 % 16}
    assert f.reported("rectifier", {"energy_total": 500}, 10.0)["energy_total"] == 0
    assert f.reported("rectifier", {"energy_total": 512}, 20.0)["energy_total"] == 12
    f.clear("counter_reset", "rectifier.energy_total")
    assert f.reported("rectifier", {"energy_total": 512}, 20.0)["energy_total"] == 512


def test_clock_skew_offsets_and_drifts_the_source_time():
    f = faults()
    f.inject("clock_skew", "rectifier", {"offset": "-2m", "drift": "36"}, t=100.0)
    assert f.clock_offset("rectifier", 50.0) == 0.0
    assert f.clock_offset("rectifier", 100.0 + 3600.0) == pytest.approx(-120.0 + 36.0)
    assert f.clock_offset("cell01", 200.0) == 0.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("drift:cell01.bath_temp", "drift: the setting rate= is needed"),
        ("drift:cell01.bath_temp,rate=fast", "rate='fast' is not a number"),
        ("drift:cell01.bath_temp,rate", "setting 'rate' is not NAME=VALUE"),
        ("drift:cell01.bath_temp,slope=1", "unknown setting 'slope' (known: rate, for)"),
        ("drift:cell01.state,rate=1", "cell01.state is not an analogue (float) tag"),
        ("noise:cell99.bath_temp,sigma=1", "no device 'cell99' in this plant"),
        ("noise:cell01.bath_temp,sigma=1,for=-1m", "for='-1m'"),
        ("spike:cell01.nosuch,size=1", "cell01 has no tag 'nosuch'"),
        ("stuck:cell01.tap_request", "is a command or text"),
        ("counter_wrap:cell01.bath_temp", "cell01.bath_temp is not a counter"),
        ("counter_wrap:rectifier.energy_total,bits=70", "bits=70 must be a whole number"),
        ("counter_wrap:cell01.ae_count,bits=32", "bits=32 is wider than cell01.ae_count's 16-bit"),
        ("counter_wrap:rectifier.energy_total,bits=33", "wider than rectifier.energy_total's 32"),
        ("clock_skew:cell01.bath_temp", "the target is a device"),
        ("meteor_strike:cell01", "unknown fault kind 'meteor_strike'"),
        ("noise", "noise: a target is needed (noise:DEVICE.TAG)"),
    ],
)
def test_a_bad_fault_spec_is_one_line_naming_the_option_and_the_problem(spec, message, capsys):
    code = main(["plant", "--cells", "1", "--no-opcua", "--fault", spec])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: --fault {spec!r}: ")
    assert message in err
    assert err.count("\n") == 1


def test_record_every_needs_a_record(capsys):
    assert main(["plant", "--cells", "1", "--no-opcua", "--record-every", "60s"]) == 2
    assert "--record-every needs --record FILE" in capsys.readouterr().err


def test_a_scenario_with_a_bad_data_quality_fault_is_refused_before_the_run():
    scenario = Scenario.model_validate(
        {
            "events": [
                {"at": 60, "fault": "drift", "target": "cell01.bath_temp", "settings": {"rat": 1}},
                {"at": 70, "fault": "spike", "target": "cell01"},
                {"at": 80, "fault": "feeder_jam", "target": "cell01", "settings": {"for": "1m"}},
                {"at": 90, "clear": "noise", "target": "cell01.bath_temp"},  # fine
            ]
        }
    )
    with pytest.raises(ValueError, match="events") as caught:
        check_scenario(scenario, Plant(cells=1), "s.yaml")
    assert str(caught.value).splitlines() == [
        "s.yaml: events[0] (at 60s): drift: unknown setting 'rat' (known: rate, for)",
        "s.yaml: events[1] (at 70s): spike: cell01 has no tag '' (target is DEVICE.TAG)",
        "s.yaml: events[2] (at 80s): settings belong to a data-quality fault event",
    ]


def test_counter_wrap_wraps_at_the_register_width_of_the_tag_by_default():
    f = faults()
    f.inject("counter_wrap", "cell01.ae_count", {"offset": "70000"}, t=0.0)  # a U16 register
    f.inject("counter_wrap", "cell01.tap_count", {"offset": "4294967296"}, t=0.0)  # U32
    read = f.reported("cell01", {"ae_count": 3, "tap_count": 5}, 1.0)
    assert read == {"ae_count": (3 + 70000) % 2**16, "tap_count": 5}
