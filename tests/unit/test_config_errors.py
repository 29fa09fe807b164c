"""Every kind of tag-map problem, reported as the exact `file:line path: message`.

Each map is written inline. Most start with HEAD (lines 1-4), so the tag written on the next
line is `devices[0].tags[0]` at line 5, the one after it `tags[1]` at line 6, and so on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from gateway.config import LoadedConfig, load_tagmaps
from gateway.errors import ConfigError

HEAD = """\
devices:
  - name: cell07
    endpoint: modbus+tcp://127.0.0.1:5020
    tags:
"""

Load = Callable[..., list[str]]


@pytest.fixture
def problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Load:
    """Write the files, load them (relative to tmp_path) and return every problem as text."""
    monkeypatch.chdir(tmp_path)

    def run(
        files: Mapping[str, str] | str,
        env: Mapping[str, str] | None = None,
        paths: list[str] | None = None,
    ) -> list[str]:
        if isinstance(files, str):
            files = {"map.yaml": files}
        for name, text in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        yaml_files = [name for name in files if name.endswith(".yaml")]
        with pytest.raises(ConfigError) as info:
            load_tagmaps(paths or yaml_files, env=env or {})
        return [str(problem) for problem in info.value.problems]

    return run


def tags(*lines: str) -> str:
    """HEAD plus one flow-style tag per line (tags[0] at line 5)."""
    return HEAD + "".join(f"      - {{{line}}}\n" for line in lines)


# --- validation (pydantic) ----------------------------------------------------------------


def test_unknown_key_suggests_the_field(problems: Load) -> None:
    assert problems(tags("name: a, space: input_register, adress: 0")) == [
        "map.yaml:5 devices[0].tags[0].address: required",
        "map.yaml:5 devices[0].tags[0].adress: unknown key 'adress' (did you mean 'address'?)",
    ]


def test_unknown_top_level_key(problems: Load) -> None:
    assert problems(HEAD + "      - {name: a, space: coil, address: 0}\ndevice: {}\n") == [
        "map.yaml:6 device: unknown key 'device' (did you mean 'devices'?)",
    ]


def test_wrong_type(problems: Load) -> None:
    assert problems(tags("name: a, space: input_register, address: forty")) == [
        "map.yaml:5 devices[0].tags[0].address: expected a whole number, not 'forty'",
    ]


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        ("unit_id: 1\n    name: 5020", "name", "expected text, not the number 5020"),
        ("metadata: {n: null}", "metadata.n", "expected text, not an empty value"),
        ("metadata: {n: [1]}", "metadata.n", "expected text, not a list"),
        ("unit_id: 1.5", "unit_id", "expected a whole number, not the number 1.5"),
        ("enabled: maybe", "enabled", "expected true or false, not 'maybe'"),
    ],
    ids=["number-for-text", "null", "list", "float-for-int", "bool"],
)
def test_scalar_type_errors_say_what_the_key_expects(
    problems: Load, line: str, key: str, message: str
) -> None:
    text = f"devices:\n  - endpoint: modbus+tcp://a\n    {line}\n"
    if "name:" not in line:
        text += "    name: cell07\n"
    (found,) = problems(text)
    assert found.endswith(f" devices[0].{key}: {message}"), found


def test_an_endpoint_that_is_not_text_shows_an_example(problems: Load) -> None:
    assert problems("devices:\n  - name: cell07\n    endpoint: 5020\n") == [
        "map.yaml:3 devices[0].endpoint: expected text, "
        "e.g. `endpoint: 'modbus+tcp://10.0.0.7:502'`"
    ]


def test_missing_required_points_at_the_mapping_that_lacks_it(problems: Load) -> None:
    text = "devices:\n  - name: cell07\n    unit_id: 3\n"
    assert problems(text) == ["map.yaml:2 devices[0].endpoint: required"]


def test_bad_enum_lists_the_allowed_values(problems: Load) -> None:
    assert problems(tags("name: a, space: holding, address: 0")) == [
        "map.yaml:5 devices[0].tags[0].space: 'holding' is not allowed: expected 'coil', "
        "'discrete_input', 'input_register' or 'holding_register' "
        "(did you mean 'holding_register'?)",
    ]


def test_union_field_is_reported_once_without_branch_names(problems: Load) -> None:
    assert problems(tags("name: a, space: input_register, address: 0, scan: [1, 2]")) == [
        "map.yaml:5 devices[0].tags[0].scan: "
        "expected a duration or the name of a scan group, e.g. `scan: 500ms` or `scan: fast`",
    ]


def test_pair_with_one_value(problems: Load) -> None:
    assert problems(tags("name: a, space: input_register, address: 0, range: [1]")) == [
        "map.yaml:5 devices[0].tags[0].range: expected a pair [low, high], e.g. `range: [0, 100]`",
    ]


# Shape errors say what the key expects, in the tag map's words, with an example.
@pytest.mark.parametrize(
    ("tag", "key", "message"),
    [
        (
            "scale: 0.1",
            "scale",
            "expected a mapping, e.g. `scale: {factor: 0.1}` or "
            "`scale: {raw: [0, 32000], eng: [0, 400]}`",
        ),
        (
            "deadband: 0.5",
            "deadband",
            "expected a mapping, e.g. `deadband: {absolute: 0.5}` or `deadband: {percent: 1}`",
        ),
        ("range: 5", "range", "expected a pair [low, high], e.g. `range: [0, 100]`"),
        ("range: [1, 2, 3]", "range", "expected a pair [low, high], e.g. `range: [0, 100]`"),
        (
            "scale: {raw: 5, eng: [0, 1]}",
            "scale.raw",
            "expected a pair [low, high], e.g. `raw: [0, 32000]`",
        ),
        (
            "tags: [L1]",
            "tags",
            "expected a mapping of InfluxDB tag names to text, e.g. `tags: {phase: L1}`",
        ),
    ],
    ids=["scale", "deadband", "range", "range-of-three", "scale-raw", "tags"],
)
def test_tag_shape_errors_show_an_example(problems: Load, tag: str, key: str, message: str) -> None:
    assert problems(tags(f"name: a, space: input_register, address: 0, {tag}")) == [
        f"map.yaml:5 devices[0].tags[0].{key}: {message}",
    ]


@pytest.mark.parametrize(
    ("line", "key", "message"),
    [
        (
            "metadata: plant_a",
            "metadata",
            "expected a mapping of InfluxDB tag names to text, "
            'e.g. `metadata: {site: plant_a, cell: "07"}`',
        ),
        (
            "scan_groups: [fast]",
            "scan_groups",
            "expected a mapping of group names to durations, "
            "e.g. `scan_groups: {fast: 200ms, slow: 10s}`",
        ),
        (
            "tags: {voltage: 0}",
            "tags",
            "expected a list of tags, "
            "e.g. `tags: [{name: voltage, space: input_register, address: 0}]`",
        ),
        (
            "tags: [voltage]",
            "tags[0]",
            "a tag is a mapping, "
            "e.g. `- {name: voltage, space: input_register, address: 0, type: float32}`",
        ),
        (
            "tags_csv: 5",
            "tags_csv",
            "expected a CSV file name or a list of them, e.g. `tags_csv: cells.csv`",
        ),
    ],
    ids=["metadata", "scan_groups", "tags", "tag", "tags_csv"],
)
def test_device_shape_errors_show_an_example(
    problems: Load, line: str, key: str, message: str
) -> None:
    text = f"devices:\n  - name: cell07\n    endpoint: modbus+tcp://a\n    {line}\n"
    assert problems(text) == [f"map.yaml:4 devices[0].{key}: {message}"]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "devices: [cell07]\n",
            "map.yaml:1 devices[0]",
            "a device is a mapping, e.g. `- {name: cell07, endpoint: 'modbus+tcp://10.0.0.7:502'}`",
        ),
        (
            "devices: {cell07: {}}\n",
            "map.yaml:1 devices",
            "expected a list of devices, e.g. `devices: [{name: cell07, endpoint: "
            "'modbus+tcp://10.0.0.7:502'}]`",
        ),
        (
            "sinks: influxdb\n",
            "map.yaml:1 sinks",
            "expected a mapping, e.g. `sinks: {precision: ms, influxdb: {bucket: plant_a}}`",
        ),
        (
            "sinks:\n  file: data\n",
            "map.yaml:2 sinks.file",
            "expected a mapping, e.g. `file: {directory: data}`",
        ),
    ],
    ids=["device", "devices", "sinks", "file-sink"],
)
def test_file_shape_errors_show_an_example(
    problems: Load, text: str, where: str, message: str
) -> None:
    assert problems(text) == [f"{where}: {message}"]


def test_float_suggests_float32_first(problems: Load) -> None:
    assert problems(tags("name: a, space: input_register, address: 0, type: float")) == [
        "map.yaml:5 devices[0].tags[0].type: 'float' is not allowed: expected 'bool', 'bit', "
        "'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'float32', 'float64' or "
        "'string' (did you mean 'float32'? most PLC floats are 32-bit; 'float64' is a "
        "64-bit double)",
    ]


@pytest.mark.parametrize(("given", "meant"), [("cdab", "CDAB"), ("Coil", "coil")])
def test_wrong_case_suggests_the_right_spelling(problems: Load, given: str, meant: str) -> None:
    key = "byte_order" if meant == "CDAB" else "space"
    tag = f"name: a, space: {given if key == 'space' else 'input_register'}, address: 0"
    if key == "byte_order":
        tag += f", type: float32, byte_order: {given}"
    (problem,) = problems(tags(tag))
    assert problem.startswith(f"map.yaml:5 devices[0].tags[0].{key}: '{given}' is not allowed")
    assert problem.endswith(f"(did you mean '{meant}'?)")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("cell 07", "it contains a space"),
        ("7cell", "it starts with '7'"),
        ("cell/07", "it contains '/'"),
        ("''", "it is empty"),
    ],
)
def test_name_errors_say_which_characters_a_name_may_hold(
    problems: Load, name: str, reason: str
) -> None:
    shown = "''" if name == "''" else repr(name)
    assert problems(tags(f"name: {name}, space: coil, address: 0")) == [
        f"map.yaml:5 devices[0].tags[0].name: {shown} is not a valid name: {reason}; a name "
        "starts with a letter (of any script) or `_`, and holds letters, digits, `_`, `.` "
        "and `-`",
    ]


def test_names_may_be_written_in_any_script(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(
        "devices:\n  - name: 电解槽07\n    endpoint: modbus+tcp://a\n    tags:\n"
        "      - {name: 槽电压, space: input_register, address: 0}\n"
        "      - {name: Badtemperatur_°C, space: input_register, address: 1}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_tagmaps([path], env={})
    # letters of any script are fine; a degree sign is not a letter
    assert [str(p).removeprefix(f"{path}:") for p in info.value.problems] == [
        "6 devices[0].tags[1].name: 'Badtemperatur_°C' is not a valid name: it contains "
        "'°'; a name starts with a letter (of any script) or `_`, and holds letters, digits, "
        "`_`, `.` and `-`",
    ]
    path.write_text(path.read_text(encoding="utf-8").replace("_°C", "_degC"), encoding="utf-8")
    (device,) = load_tagmaps([path], env={}).devices
    assert (device.name, [t.name for t in device.tags]) == (
        "电解槽07",
        ["槽电压", "Badtemperatur_degC"],
    )


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        (
            "http://10.0.0.1:502",
            "'http://10.0.0.1:502': unsupported scheme 'http' (expected modbus+tcp://host:port, "
            "modbus+rtu:///dev/ttyUSB0, modbus+ascii:///dev/ttyUSB0 or modbus+rtu-tcp://host:port)",
        ),
        ("modbus+tcp://:502", "'modbus+tcp://:502' has no host (expected modbus+tcp://host:port)"),
        (
            "modbus+tcp://plc:99999",
            "'modbus+tcp://plc:99999' is not a valid endpoint URL (Port out of range 0-65535)",
        ),
    ],
    ids=["scheme", "host", "port"],
)
def test_bad_endpoint(problems: Load, endpoint: str, message: str) -> None:
    text = f"devices:\n  - name: cell07\n    endpoint: {endpoint}\n"
    assert problems(text) == [f"map.yaml:3 devices[0].endpoint: {message}"]


# --- files and YAML -------------------------------------------------------------------------


def test_yaml_syntax_error(problems: Load) -> None:
    text = HEAD + "      - {name: a, space: coil, address: 0\n  - name: b\n"
    (problem,) = problems(text)
    assert problem.startswith("map.yaml:6: invalid YAML: while parsing a flow mapping")


def test_duplicate_yaml_key(problems: Load) -> None:
    text = "devices:\n  - name: cell07\n    endpoint: modbus+tcp://a\n    name: cell08\n"
    assert problems(text) == [
        "map.yaml:4 devices[0].name: duplicate key 'name' (first at line 2)",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "map.yaml: the file is empty"),
        ("# nothing yet\n", "map.yaml: the file is empty"),
        (
            "- name: cell07\n",
            "map.yaml:1: the top level must be a mapping with `devices:` (and `sinks:`, "
            "`buffer:`, `health:`)",
        ),
        (
            "devices: [a]\n---\ndevices: []\n",
            "map.yaml:2: invalid YAML: expected a single "
            "document in the stream, but found another document",
        ),
    ],
    ids=["empty", "comments-only", "list", "two-documents"],
)
def test_unusable_file(problems: Load, text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_missing_file_and_empty_folder(problems: Load, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert problems({}, paths=["nothere.yaml", "empty"]) == [
        "empty: no *.yaml or *.yml files here",
        "nothere.yaml: no such file or folder",
    ]


def test_unset_environment_variable(problems: Load) -> None:
    text = "devices:\n  - name: cell07\n    endpoint: modbus+tcp://${PLANT_HOST}:502\n"
    assert problems(text) == [
        "map.yaml:3 devices[0].endpoint: environment variable PLANT_HOST is not set",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${PLC_HOST", "`${` without a closing `}`"),
        ("${1HOST}", "${1HOST} is not a variable reference (use ${NAME} or ${NAME:-default})"),
        ("${A:-${B}}", "${A:-${B}: a default cannot contain another ${...}"),
    ],
    ids=["unclosed", "bad-name", "nested"],
)
def test_bad_variable_reference(problems: Load, value: str, message: str) -> None:
    text = f"devices:\n  - name: cell07\n    endpoint: modbus+tcp://a\n    description: '{value}'\n"
    assert problems(text) == [f"map.yaml:4 devices[0].description: {message}"]


# --- CSV tag lists --------------------------------------------------------------------------

CSV_DEVICE = "devices:\n  - name: cell07\n    endpoint: modbus+tcp://a\n    tags_csv: {}\n"


def test_malformed_csv_row(problems: Load) -> None:
    csv = "name,space,address\na,coil,0\nb,coil\n"
    assert problems({"map.yaml": CSV_DEVICE.format("t.csv"), "t.csv": csv}) == [
        "t.csv:3 devices[0].tags_csv: the row has 2 cells, the header has 3 columns",
    ]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("name,space,address,untis", "unknown column 'untis' (did you mean 'unit'?)"),
        # a misspelt required column is not also reported as missing
        ("name,space,adress,unit", "unknown column 'adress' (did you mean 'address'?)"),
        ("name,space,unit,type", "missing column 'address'"),
    ],
    ids=["unknown", "misspelt-required", "missing-required"],
)
def test_bad_csv_header(problems: Load, header: str, message: str) -> None:
    csv = f"# cell 7\n{header}\na,coil,0,\n"
    assert problems({"map.yaml": CSV_DEVICE.format("t.csv"), "t.csv": csv}) == [
        f"t.csv:2 devices[0].tags_csv: {message}",
    ]


def test_missing_csv_file(problems: Load) -> None:
    assert problems(CSV_DEVICE.format("[t.csv]")) == [
        "map.yaml:4 devices[0].tags_csv[0]: cannot read t.csv: No such file or directory",
    ]


def test_csv_row_problems_name_the_column(problems: Load) -> None:
    csv = "name,space,address,type,raw_low,raw_high\na,coil,0,,,\nb,input_register,x,int16,0,\n"
    assert problems({"map.yaml": CSV_DEVICE.format("t.csv"), "t.csv": csv}) == [
        "t.csv:3 devices[0].tags[1].scale.raw: raw_low is given but raw_high is empty",
        "t.csv:3 devices[0].tags[1].address: expected a whole number, not 'x' (column address)",
    ]


# --- cross-field checks ---------------------------------------------------------------------


def test_duplicate_device_across_two_files(problems: Load) -> None:
    device = "devices:\n  - name: cell07\n    endpoint: modbus+tcp://a\n"
    assert problems({"a.yaml": device, "b.yaml": "\n" + device}) == [
        "b.yaml:3 devices[0].name: duplicate device name 'cell07' (first in a.yaml:2)",
    ]


def test_duplicate_tag_name(problems: Load) -> None:
    text = tags("name: a, space: coil, address: 0", "name: a, space: coil, address: 1")
    assert problems(text) == [
        "map.yaml:6 devices[0].tags[1].name: duplicate tag name 'a' (also tags[0])"
    ]


def test_overlapping_registers(problems: Load) -> None:
    text = tags(
        "name: voltage, space: input_register, address: 10, type: float32",
        "name: current, space: input_register, address: 11, type: int32",
    )
    assert problems(text) == [
        "map.yaml:6 devices[0].tags[1].address: registers 11..12 overlap tag 'voltage' "
        "(tags[0], registers 10..11)",
    ]


def test_bits_of_one_register_do_not_overlap(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(
        tags(
            "name: a, space: holding_register, address: 4, type: bit, bit: 0",
            "name: b, space: holding_register, address: 4, type: bit, bit: 15",
            "name: c, space: input_register, address: 4, type: float32",
        )
    )
    config = load_tagmaps([path], env={})
    assert isinstance(config, LoadedConfig)
    assert [t.bit for t in config.devices[0].tags] == [0, 15, None]


def test_same_bit_twice(problems: Load) -> None:
    text = tags(
        "name: a, space: holding_register, address: 4, type: bit, bit: 3",
        "name: b, space: holding_register, address: 4, type: bit, bit: 3",
    )
    assert problems(text) == [
        "map.yaml:6 devices[0].tags[1].bit: bit 3 of register 4 is already tag 'a' (tags[0])",
    ]


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        (
            "name: a, space: coil, address: 0, type: int16",
            "type int16 does not fit space coil, which holds single bits (use type bool)",
        ),
        (
            "name: a, space: holding_register, address: 0, type: bool",
            "type bool does not fit space holding_register: bool is for coil and "
            "discrete_input (for a bit of a register use type bit)",
        ),
    ],
    ids=["register-type-in-coil", "bool-in-register"],
)
def test_type_does_not_fit_space(problems: Load, tag: str, message: str) -> None:
    assert problems(tags(tag)) == [f"map.yaml:5 devices[0].tags[0].type: {message}"]


def test_bit_missing_out_of_range_or_misplaced(problems: Load) -> None:
    text = tags(
        "name: a, space: input_register, address: 0, type: bit",
        "name: b, space: input_register, address: 1, type: bit, bit: 16",
        "name: c, space: input_register, address: 2, bit: 1",
    )
    assert problems(text) == [
        "map.yaml:5 devices[0].tags[0].bit: type bit needs bit: 0..15",
        "map.yaml:6 devices[0].tags[1].bit: Input should be less than or equal to 15",
        "map.yaml:7 devices[0].tags[2].bit: bit is only used with type bit (this tag is uint16)",
    ]


def test_string_without_length_and_length_without_string(problems: Load) -> None:
    text = tags(
        "name: a, space: holding_register, address: 0, type: string",
        "name: b, space: holding_register, address: 1, length: 2",
    )
    assert problems(text) == [
        "map.yaml:5 devices[0].tags[0].length: "
        "type string needs length: registers, two characters each",
        "map.yaml:6 devices[0].tags[1].length: "
        "length is only used with type string (this tag is uint16)",
    ]


def test_too_long_for_max_registers(problems: Load) -> None:
    text = tags(
        "name: a, space: holding_register, address: 0, type: string, length: 8",
        "name: b, space: holding_register, address: 10, type: float64",
    ).replace("    tags:\n", "    max_registers: 2\n    tags:\n")
    assert problems(text) == [
        "map.yaml:6 devices[0].tags[0].length: "
        "8 registers do not fit in one request (max_registers is 2)",
        "map.yaml:7 devices[0].tags[1].type: "
        "4 registers do not fit in one request (max_registers is 2)",
    ]


def test_address_overflow(problems: Load) -> None:
    text = tags("name: a, space: holding_register, address: 65534, type: float64")
    assert problems(text) == [
        "map.yaml:5 devices[0].tags[0].address: "
        "registers 65534..65537 run past the last address 65535",
    ]


def test_scan_rate_zero(problems: Load) -> None:
    text = tags(
        "name: a, space: coil, address: 0, scan: 0",
        "name: b, space: coil, address: 1, scan: 0ms",
    )
    assert problems(text) == [
        "map.yaml:5 devices[0].tags[0].scan: scan rate must be greater than zero",
        "map.yaml:6 devices[0].tags[1].scan: scan rate must be greater than zero",
    ]


def test_unknown_scan_group(problems: Load) -> None:
    text = tags("name: a, space: coil, address: 0, scan: fats").replace(
        "    tags:\n", "    scan_groups: {fast: 200ms, slow: 10s}\n    tags:\n"
    )
    assert problems(text) == [
        "map.yaml:6 devices[0].tags[0].scan: 'fats' is neither a duration (500ms, 2s, ...) "
        "nor a scan group of this device (scan_groups: fast, slow)",
    ]


def test_invalid_scan_groups_do_not_make_every_group_reference_an_error(problems: Load) -> None:
    text = tags("name: a, space: coil, address: 0, scan: fast").replace(
        "    tags:\n", "    scan_groups: {fast: 0}\n    tags:\n"
    )
    assert problems(text) == [
        "map.yaml:4 devices[0].scan_groups: scan group 'fast': the rate must be greater than zero",
    ]


def test_scale_errors(problems: Load) -> None:
    text = tags(
        "name: a, space: input_register, address: 0, scale: {raw: [0, 100]}",
        "name: b, space: input_register, address: 1, scale: {raw: [5, 5], eng: [0, 1]}",
        "name: c, space: input_register, address: 2, scale: {factor: 0}",
        "name: d, space: input_register, address: 3, scale: {factor: 2, raw: [0, 1], eng: [0, 2]}",
        "name: e, space: coil, address: 0, scale: {factor: 2}",
    )
    assert problems(text) == [
        "map.yaml:5 devices[0].tags[0].scale.raw: raw needs eng: give both ranges or neither",
        "map.yaml:6 devices[0].tags[1].scale.raw: raw low and high must differ",
        "map.yaml:7 devices[0].tags[2].scale.factor: factor must not be zero",
        "map.yaml:8 devices[0].tags[3].scale.factor: "
        "factor cannot be combined with raw/eng: use one form or the other",
        "map.yaml:9 devices[0].tags[4].scale: scale needs a numeric type, not bool",
    ]


def test_deadband_errors(problems: Load) -> None:
    text = tags(
        "name: a, space: input_register, address: 0, deadband: {absolute: 1, percent: 1}",
        "name: b, space: input_register, address: 1, deadband: {percent: 1}",
        "name: c, space: coil, address: 0, deadband: {absolute: 1}",
    ).replace("    tags:\n", "    deadband: {}\n    tags:\n")
    assert problems(text) == [
        "map.yaml:4 devices[0].deadband: give exactly one of absolute or percent",
        "map.yaml:6 devices[0].tags[0].deadband: give exactly one of absolute or percent",
        "map.yaml:7 devices[0].tags[1].deadband.percent: "
        "percent needs a span: set range or scale.eng",
        "map.yaml:8 devices[0].tags[2].deadband: deadband needs a numeric type, not bool",
    ]


def test_range_errors(problems: Load) -> None:
    text = tags(
        "name: a, space: input_register, address: 0, range: [10, 10]",
        "name: b, space: coil, address: 0, range: [0, 1]",
    )
    assert problems(text) == [
        "map.yaml:5 devices[0].tags[0].range: low must be less than high (got [10, 10])",
        "map.yaml:6 devices[0].tags[1].range: range needs a numeric type, not bool",
    ]


def test_duplicate_destination(problems: Load) -> None:
    text = tags(
        "name: a, space: input_register, address: 0, field: value",
        "name: b, space: input_register, address: 1, field: value",
        "name: c, space: input_register, address: 2, field: value, tags: {phase: L1}",
    )
    assert problems(text) == [
        "map.yaml:6 devices[0].tags[1].field: tag 'a' (tags[0]) already writes "
        "measurement 'modbus', field 'value' with the same tags",
    ]


def test_reserved_device_key(problems: Load) -> None:
    text = tags("name: a, space: coil, address: 0, tags: {device: x}").replace(
        "    tags:\n", "    metadata:\n      device: potline2\n    tags:\n"
    )
    assert problems(text) == [
        "map.yaml:5 devices[0].metadata.device: "
        "'device' is reserved: the gateway adds device=<device name> itself",
        "map.yaml:7 devices[0].tags[0].tags.device: "
        "'device' is reserved: the gateway adds device=<device name> itself",
    ]


# --- everything at once ---------------------------------------------------------------------

SEVERAL = """\
devices:
  - name: cell07
    endpoint: modbus+tcp://127.0.0.1:5020
    unit_id: 300
    tags:
      - {name: voltage, space: input_register, address: 0, type: float32}
      - {name: current, space: input_register, address: 1}
      - {name: alarm, space: input_register, address: 9, type: bit}
  - name: cell08
    endpoint: modbus+tcp://127.0.0.1
    retrys: 2
    tags:
      - {name: voltage, space: input_registers, address: 0}
      - {name: voltage, space: coil, address: 0, scan: 0}
"""


def test_all_problems_of_two_devices_in_file_and_line_order(problems: Load) -> None:
    assert problems({"a.yaml": tags("name: x, space: coil, address: -1"), "b.yaml": SEVERAL}) == [
        "a.yaml:5 devices[0].tags[0].address: Input should be greater than or equal to 0",
        "b.yaml:2 devices[0].name: duplicate device name 'cell07' (first in a.yaml:2)",
        "b.yaml:4 devices[0].unit_id: Input should be less than or equal to 255",
        # a device that fails validation still gets the checks of its valid part
        "b.yaml:7 devices[0].tags[1].address: register 1 overlaps tag 'voltage' "
        "(tags[0], registers 0..1)",
        "b.yaml:8 devices[0].tags[2].bit: type bit needs bit: 0..15",
        "b.yaml:11 devices[1].retrys: unknown key 'retrys' (did you mean 'retries'?)",
        "b.yaml:13 devices[1].tags[0].space: 'input_registers' is not allowed: expected "
        "'coil', 'discrete_input', 'input_register' or 'holding_register' "
        "(did you mean 'input_register'?)",
        "b.yaml:14 devices[1].tags[1].scan: scan rate must be greater than zero",
    ]


def test_the_broken_example_of_the_readme(monkeypatch: pytest.MonkeyPatch) -> None:
    """mappings/README.md shows these lines for tests/cases/config/broken/."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    with pytest.raises(ConfigError) as info:
        load_tagmaps(["tests/cases/config/broken"], env={})
    cell07, cell08 = "tests/cases/config/broken/cell07.yaml", "tests/cases/config/broken/cell08.csv"
    assert [str(problem) for problem in info.value.problems] == [
        f"{cell07}:3 devices[0].endpoint: environment variable CELL07_PLC_HOST is not set",
        f"{cell07}:8 devices[0].tags[0].unti: unknown key 'unti' (did you mean 'unit'?)",
        f"{cell07}:12 devices[0].tags[1].address: register 1 overlaps tag 'cell_voltage' "
        "(tags[0], registers 0..1)",
        f"{cell07}:19 devices[0].tags[2].deadband.percent: "
        "percent needs a span: set range or scale.eng",
        f"{cell07}:21 devices[0].tags[3].space: 'holding' is not allowed: expected 'coil', "
        "'discrete_input', 'input_register' or 'holding_register' "
        "(did you mean 'holding_register'?)",
        f"{cell08}:3 devices[0].tags[1].bit: bit 0 of register 4 is already tag "
        "'alarm_anode_effect' (tags[0]) (column bit)",
        f"{cell08}:4 devices[0].tags[2].length: "
        "type string needs length: registers, two characters each (column length)",
    ]
    readme = (Path.cwd() / "mappings" / "README.md").read_text(encoding="utf-8")
    for problem in info.value.problems:
        assert f"\n{problem}\n" in readme


def test_bit_tags_may_overlap_the_word_they_view(tmp_path):
    from gateway.config import load_tagmaps

    path = tmp_path / "alarms.yaml"
    path.write_text(
        "devices:\n"
        "  - name: cell01\n"
        "    endpoint: modbus+tcp://127.0.0.1:5020\n"
        "    tags:\n"
        "      - {name: alarm_word, space: input_register, address: 3}\n"
        "      - {name: low_oxide, space: input_register, address: 3, type: bit, bit: 0}\n"
        "      - {name: anode_effect, space: input_register, address: 3, type: bit, bit: 1}\n"
    )
    config = load_tagmaps([path])
    assert [t.name for t in config.devices[0].tags] == ["alarm_word", "low_oxide", "anode_effect"]


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ("    scan_groups: {fast: .nan}\n", "devices[0].scan_groups.fast"),
        ("    scan_rate: .inf\n", "devices[0].scan_rate"),
        ("    deadband: {absolute: .nan}\n", "devices[0].deadband.absolute"),
    ],
)
def test_non_finite_numbers_are_rejected(tmp_path, line, path):
    from gateway.config import load_tagmaps
    from gateway.errors import ConfigError

    file = tmp_path / "nan.yaml"
    file.write_text(
        "devices:\n  - name: cell01\n    endpoint: modbus+tcp://127.0.0.1:5020\n" + line
    )
    with pytest.raises(ConfigError) as exc:
        load_tagmaps([file])
    (problem,) = exc.value.problems
    assert f"{file}:4 {path}: " in str(problem)
    assert "finite" in str(problem)


def test_non_finite_scaling_is_rejected(tmp_path):
    from gateway.config import load_tagmaps
    from gateway.errors import ConfigError

    file = tmp_path / "nan.yaml"
    file.write_text(
        "devices:\n"
        "  - name: cell01\n"
        "    endpoint: modbus+tcp://127.0.0.1:5020\n"
        "    tags:\n"
        "      - {name: v, space: input_register, address: 0, scale: {factor: .nan}}\n"
    )
    with pytest.raises(
        ConfigError, match=r"nan.yaml:5 devices\[0\].tags\[0\].scale.factor: .*finite"
    ):
        load_tagmaps([file])


def test_six_digit_modicon_address_says_the_zero_based_address(problems: Load) -> None:
    assert problems(tags("name: a, space: holding_register, address: 400101")) == [
        "map.yaml:5 devices[0].tags[0].address: Input should be less than or equal to 65535 "
        "(400101 looks like 6-digit Modicon notation, where holding register 400001 is "
        "address 0: probably address: 100)",
    ]


def test_six_digit_modicon_address_in_csv(problems: Load) -> None:
    csv = "name,space,address\na,input_register,300001\n"
    assert problems({"map.yaml": CSV_DEVICE.format("t.csv"), "t.csv": csv}) == [
        "t.csv:2 devices[0].tags[0].address: Input should be less than or equal to 65535 "
        "(300001 looks like 6-digit Modicon notation, where input register 300001 is "
        "address 0: probably address: 0) (column address)",
    ]


@pytest.mark.parametrize(
    ("line", "key"),
    [("timeout: [1]", "timeout"), ("scan_groups: {fast: {s: 1}}", "scan_groups.fast")],
)
def test_a_duration_of_the_wrong_shape_says_what_a_duration_is(
    problems: Load, line: str, key: str
) -> None:
    text = f"devices:\n  - name: cell07\n    endpoint: modbus+tcp://a\n    {line}\n"
    assert problems(text) == [
        f"map.yaml:4 devices[0].{key}: a duration is a number of seconds or a string "
        "(examples: 250ms, 1s, 2.5m, 1h, 7d)",
    ]
