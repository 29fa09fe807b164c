"""`gateway demo` finds the bundled tag maps outside a source checkout (the image has them in
/etc/plc-gateway/mappings, the wheel has none), and says in one line what to do when it
cannot: `--mappings DIR`, exit 2, no traceback; the same for a scenario neither a file nor a
bundled name."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.demo import (
    IMAGE_MAPPINGS,
    SOURCE_MAPPINGS,
    MappingsNotFound,
    demo_scenario,
    find_mappings,
)
from simulators.scenarionames import BUNDLED_SCENARIOS, bundled_scenario_names


def maps(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "plant.yaml").write_text("devices: []\n")
    return folder


def test_the_default_lookup_is_the_source_tree_then_the_image(tmp_path: Path) -> None:
    source, image = tmp_path / "src" / "mappings", tmp_path / "etc" / "mappings"
    assert find_mappings(None, (source, maps(image))) == image
    assert find_mappings(None, (maps(source), image)) == source
    assert Path(__file__).resolve().parents[2] / "mappings" == SOURCE_MAPPINGS
    dockerfile = (SOURCE_MAPPINGS.parent / "Dockerfile").read_text()
    assert f" {IMAGE_MAPPINGS}/" in dockerfile  # where the image copies them


def test_no_maps_anywhere_says_to_pass_mappings(tmp_path: Path) -> None:
    with pytest.raises(MappingsNotFound, match="pass --mappings DIR") as caught:
        find_mappings(None, (tmp_path / "a", tmp_path / "b"))
    assert str(tmp_path / "a") in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_given_folder_is_the_only_one_looked_at(tmp_path: Path) -> None:
    maps(tmp_path / "elsewhere")
    with pytest.raises(MappingsNotFound, match=r"no plant\.yaml"):
        find_mappings(str(tmp_path / "missing"), (tmp_path / "elsewhere",))


def test_demo_without_maps_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # an empty directory, no source tree around
    code = main(["demo", "--duration", "1", "--mappings", str(tmp_path / "missing")])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"error: {tmp_path / 'missing'}: no plant.yaml (the bundled tag maps): pass "
        "--mappings DIR with the folder of the simulated plant's maps"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing written


def test_the_scenario_is_a_file_or_a_bundled_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert demo_scenario(None) == BUNDLED_SCENARIOS / "anode-effect-storm.yaml"
    assert demo_scenario("feeder-jam") == BUNDLED_SCENARIOS / "feeder-jam.yaml"


def test_demo_with_an_unknown_scenario_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["demo", "--duration", "1", "--mappings", str(SOURCE_MAPPINGS), "--scenario", "x"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    names = ", ".join(bundled_scenario_names())
    assert err.splitlines() == [f"error: x: no such file, nor a bundled scenario ({names})"]
