"""`--scenario` takes a bundled scenario's name where no such file exists: in the image the
scenarios exist only inside the installed package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulators.cli import main
from simulators.scenarionames import BUNDLED_SCENARIOS, bundled_scenario_names, find_scenario

NAMES = ["anode-effect-storm", "feeder-jam", "normal-shift", "rectifier-trip", "sensor-faults"]


def test_the_bundled_names_are_the_package_files():
    assert bundled_scenario_names() == NAMES
    assert sorted(p.stem for p in BUNDLED_SCENARIOS.glob("*.yaml")) == NAMES


def test_a_name_with_or_without_yaml_finds_the_bundled_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no scenarios/ folder around
    storm = BUNDLED_SCENARIOS / "anode-effect-storm.yaml"
    assert find_scenario("anode-effect-storm") == storm
    assert find_scenario("anode-effect-storm.yaml") == storm


def test_a_file_that_exists_wins_over_the_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("feeder-jam.yaml").write_text("events: []\n")
    assert find_scenario("feeder-jam.yaml") == Path("feeder-jam.yaml")
    assert find_scenario(str(tmp_path / "feeder-jam.yaml")) == tmp_path / "feeder-jam.yaml"


def test_neither_a_file_nor_a_name_lists_the_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="storm: no such file") as caught:
        find_scenario("storm")
    assert ", ".join(NAMES) in str(caught.value)
    with pytest.raises(ValueError, match="no such file"):
        find_scenario("elsewhere/anode-effect-storm.yaml")  # a path is a path


def test_plant_help_lists_the_names(capsys):
    with pytest.raises(SystemExit):
        main(["plant", "--help"])
    text = re.sub(r"-\s+", "-", " ".join(capsys.readouterr().out.split()))  # wrapped at hyphens
    assert ", ".join(NAMES) in text


def test_plant_runs_a_bundled_scenario_by_name_from_an_empty_directory(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    argv = ["plant", "--cells", "12", "--speed", "max", "--duration", "2", "--modbus-port", "0"]
    assert main([*argv, "--no-opcua", "--scenario", "anode-effect-storm"]) == 0
    assert main([*argv, "--no-opcua", "--scenario", "storm"]) == 2
    err = capsys.readouterr().err
    assert f"error: storm: no such file, nor a bundled scenario ({', '.join(NAMES)})" in err
