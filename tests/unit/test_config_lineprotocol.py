"""`gateway check` refuses what InfluxDB line protocol cannot carry, and field names that
collide with another tag's field or its `_quality` / `_reason` companion, with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.config import load_tagmaps
from gateway.errors import ConfigError

HEAD = """\
devices:
  - name: cell07
    endpoint: modbus+tcp://127.0.0.1:5020
    tags:
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_tagmaps([str(path)], env={})
    return [str(problem).removeprefix(f"{tmp_path}/") for problem in info.value.problems]


def loads(tmp_path: Path, text: str) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    load_tagmaps([str(path)], env={})


def tags(*lines: str) -> str:
    """HEAD plus one flow-style tag per line (tags[0] at line 5)."""
    return HEAD + "".join(f"      - {{{line}}}\n" for line in lines)


# -- what line protocol cannot carry ---------------------------------------------------------

TRAILING = "ends with a backslash, which line protocol cannot carry (it would escape the "


def test_trailing_backslash_in_tag_values_keys_fields_and_measurements(tmp_path: Path) -> None:
    text = tags(
        "name: a, space: coil, address: 0, tags: {path: 'C:\\plant\\'}",
        "name: b, space: coil, address: 1, field: 'b\\'",
        "name: c, space: coil, address: 2, measurement: 'cell\\'",
        "name: d, space: coil, address: 3, tags: {'dir\\': x}",
    )
    assert problems(tmp_path, text) == [
        f"map.yaml:5 devices[0].tags[0].tags.path: tag value 'C:\\\\plant\\\\' {TRAILING}"
        "separator after it and InfluxDB refuses the line)",
        f"map.yaml:6 devices[0].tags[1].field: field name 'b\\\\' {TRAILING}"
        "separator after it and InfluxDB refuses the line)",
        f"map.yaml:7 devices[0].tags[2].measurement: measurement 'cell\\\\' {TRAILING}"
        "separator after it and InfluxDB refuses the line)",
        f"map.yaml:8 devices[0].tags[3].tags.dir\\: tag key 'dir\\\\' {TRAILING}"
        "separator after it and InfluxDB refuses the line)",
    ]


def test_device_metadata_and_measurement_are_checked(tmp_path: Path) -> None:
    text = (
        HEAD.replace("    tags:\n", "    measurement: 'a\\'\n    metadata:\n      path: 'C:\\'\n")
        + "    tags:\n      - {name: a, space: coil, address: 0}\n"
    )
    found = problems(tmp_path, text)
    assert [line.split(": ")[0] for line in found] == [
        "map.yaml:4 devices[0].measurement",
        "map.yaml:6 devices[0].metadata.path",
    ]


def test_line_breaks_are_refused(tmp_path: Path) -> None:
    text = tags(
        'name: a, space: coil, address: 0, tags: {note: "two\\nlines"}',
        'name: b, space: coil, address: 1, field: "b\\r\\nc"',
    )
    message = "contains a line break, which line protocol cannot carry"
    assert problems(tmp_path, text) == [
        f"map.yaml:5 devices[0].tags[0].tags.note: tag value 'two\\nlines' {message}",
        f"map.yaml:6 devices[0].tags[1].field: field name 'b\\r\\nc' {message}",
    ]


def test_backslash_that_influxdb_would_drop_or_misread(tmp_path: Path) -> None:
    text = tags(
        "name: a, space: coil, address: 0, measurement: 'a\\ b'",
        "name: b, space: coil, address: 1, measurement: 'a\\,b'",
        "name: c, space: coil, address: 2, field: 'c\\=d'",
        "name: d, space: coil, address: 3, field: 'say\\\"hi'",
    )
    assert problems(tmp_path, text) == [
        "map.yaml:5 devices[0].tags[0].measurement: measurement 'a\\\\ b': a backslash before "
        "a comma or space cannot be written to InfluxDB",
        "map.yaml:6 devices[0].tags[1].measurement: measurement 'a\\\\,b': a backslash before "
        "a comma or space cannot be written to InfluxDB",
        "map.yaml:7 devices[0].tags[2].field: field name 'c\\\\=d': a backslash before "
        "a comma, equals sign, space or double quote cannot be written to InfluxDB",
        "map.yaml:8 devices[0].tags[3].field: field name 'say\\\\\"hi': a backslash before "
        "a comma, equals sign, space or double quote cannot be written to InfluxDB",
    ]


def test_measurement_starting_with_hash_is_a_comment(tmp_path: Path) -> None:
    assert problems(tmp_path, tags("name: a, space: coil, address: 0, measurement: '#cell'")) == [
        "map.yaml:5 devices[0].tags[0].measurement: measurement '#cell' starts with '#': "
        "InfluxDB reads the line as a comment and drops it",
    ]


def test_what_line_protocol_carries_loads(tmp_path: Path) -> None:
    # backslashes inside names and tag values, and every special character that is escaped
    text = tags(
        "name: a, space: coil, address: 0, tags: {path: 'C:\\plant', 'a b': 'x,y=z \\,'}",
        "name: b, space: coil, address: 1, field: 'water temp, \"C:\\x\"', measurement: 'a=b c'",
    )
    loads(tmp_path, text)


# -- field names that collide -----------------------------------------------------------------


def test_field_equal_to_the_quality_or_reason_field_of_another(tmp_path: Path) -> None:
    text = tags(
        "name: temp, space: input_register, address: 0",
        "name: temp_quality, space: input_register, address: 1",
        "name: x, space: input_register, address: 2, field: temp_reason",
    )
    assert problems(tmp_path, text) == [
        "map.yaml:6 devices[0].tags[1].name: field 'temp_quality' is also the quality field of "
        "tag 'temp' (tags[0]) in measurement 'modbus'",
        "map.yaml:7 devices[0].tags[2].field: field 'temp_reason' is also the reason field of "
        "tag 'temp' (tags[0]) in measurement 'modbus'",
    ]


def test_collision_is_found_whichever_tag_comes_first(tmp_path: Path) -> None:
    text = tags(
        "name: level_quality, space: input_register, address: 0, tags: {phase: L1}",
        "name: level, space: input_register, address: 1, tags: {phase: L2}",
    )
    assert problems(tmp_path, text) == [
        "map.yaml:5 devices[0].tags[0].name: field 'level_quality' is also the quality field "
        "of tag 'level' (tags[1]) in measurement 'modbus'",
    ]


def test_collision_across_devices_of_one_measurement(tmp_path: Path) -> None:
    """cell07's `temp` writes `temp_quality` as an integer, cell08's float `temp_quality` lands
    in the same measurement `cell`: InfluxDB would refuse one of them for a type conflict."""
    text = (
        "devices:\n"
        "  - {name: cell07, endpoint: 'modbus+tcp://a', measurement: cell,\n"
        "     tags: [{name: temp, space: input_register, address: 0}]}\n"
        "  - {name: cell08, endpoint: 'modbus+tcp://a', measurement: cell,\n"
        "     tags: [{name: temp_quality, space: input_register, address: 0, type: float32}]}\n"
        "  - {name: lab, endpoint: 'modbus+tcp://a', measurement: lab,\n"
        "     tags: [{name: temp_quality, space: input_register, address: 0}]}\n"
    )
    assert problems(tmp_path, text) == [
        "map.yaml:5 devices[1].tags[0].name: field 'temp_quality' is also the quality field of "
        "tag 'temp' of device 'cell07' in measurement 'cell' (a field keeps one type)",
    ]


def test_companion_names_in_other_measurements_are_fine(tmp_path: Path) -> None:
    text = tags(
        "name: temp, space: input_register, address: 0",
        "name: temp_quality, space: input_register, address: 1, measurement: lab",
    )
    loads(tmp_path, text)


def test_the_example_of_mappings_readme(tmp_path: Path) -> None:
    text = tags(
        "name: a, space: coil, address: 0, tags: {path: 'C:\\plant\\'}",
        'name: b, space: coil, address: 1, tags: {note: "two\\nlines"}',
        "name: c, space: coil, address: 2, measurement: 'a\\ b'",
        "name: d, space: coil, address: 3, field: 'c\\=d'",
        "name: e, space: coil, address: 4, measurement: '#cell'",
        "name: temp, space: coil, address: 5",
        "name: temp_quality, space: coil, address: 6",
    )
    readme = (Path(__file__).parents[2] / "mappings" / "README.md").read_text(encoding="utf-8")
    found = problems(tmp_path, text)
    assert len(found) == 6
    for line in found:
        assert f"\n{line}\n" in readme, line


def test_csv_rows_are_reported_at_their_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "tags.csv").write_text(
        "name,space,address,field\ntemp,coil,0,\nt2,coil,1,temp_quality\nt3,coil,2,C:\\\n",
        encoding="utf-8",
    )
    text = HEAD.replace("    tags:\n", "    tags_csv: tags.csv\n")
    assert problems(tmp_path, text) == [
        "tags.csv:3 devices[0].tags[1].field: field 'temp_quality' is also the quality field "
        "of tag 'temp' (tags[0]) in measurement 'modbus' (column field)",
        "tags.csv:4 devices[0].tags[2].field: field name 'C:\\\\' ends with a backslash, which "
        "line protocol cannot carry (it would escape the separator after it and InfluxDB "
        "refuses the line) (column field)",
    ]
