"""Loading valid tag maps: files and folders, CSV tag lists, ${VAR} substitution, sinks."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest
from pydantic import BaseModel

from gateway.collectors.modbus.codec import decode
from gateway.collectors.modbus.models import ModbusDevice, ModbusTag
from gateway.collectors.modbus.types import ByteOrder, DataType, Space
from gateway.collectors.opcua.models import ChangeFilter, Mode, OpcuaDevice, OpcuaTag
from gateway.config import LoadedConfig, load_tagmaps
from gateway.config.models import (
    BufferConfig,
    Deadband,
    FileSinkConfig,
    HealthConfig,
    InfluxDBSinkConfig,
    RunConfig,
    Scaling,
    SinksConfig,
)
from gateway.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "tests" / "cases" / "config" / "valid"
BROKEN = ROOT / "tests" / "cases" / "config" / "broken"
EXAMPLE = VALID / "example.yaml"
README = ROOT / "mappings" / "README.md"
OPCUA_EXAMPLE = ROOT / "tests" / "cases" / "config" / "opcua" / "rectifier.yaml"

DEVICE = """\
devices:
  - name: {name}
    endpoint: modbus+tcp://127.0.0.1:5020
    tags:
      - {{name: a, space: coil, address: 0}}
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(paths: list[str | Path], env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_tagmaps(paths, env=env or {})
    return [str(problem) for problem in info.value.problems]


# --- the README examples ----------------------------------------------------------------------


def test_readme_example_loads() -> None:
    config = load_tagmaps([EXAMPLE], env={})
    (cell,) = config.devices
    assert config.origin == {"potline2_cell07": str(EXAMPLE)}
    assert config.sinks is None
    assert cell.endpoint == "modbus+tcp://127.0.0.1:5020"  # ${CELL07_PLC_HOST:-127.0.0.1}
    assert (cell.timeout, cell.scan_rate, cell.heartbeat) == (0.5, 1.0, 60.0)
    assert cell.scan_groups == {"fast": 0.2, "slow": 10.0}
    assert cell.metadata == {"site": "plant_a", "line": "potline2", "cell": "07"}
    tags = {tag.name: tag for tag in cell.tags}
    assert tags["cell_voltage"].type is DataType.FLOAT32
    assert tags["cell_voltage"].byte_order is ByteOrder.CDAB
    assert tags["line_current"].scale is not None
    assert tags["line_current"].scale.eng == (0.0, 400.0)
    assert tags["bath_temperature"].scale is not None
    assert tags["bath_temperature"].scale.factor == 0.1
    assert [tags[n].bit for n in tags if n.startswith("alarm_")] == [0, 1, 5]
    assert tags["energy_counter"].heartbeat == 300.0
    assert (tags["product_code"].type, tags["product_code"].length) == (DataType.STRING, 4)
    assert tags["feeder_enabled"].dtype is DataType.BOOL


def test_every_valid_example_loads_from_the_folder() -> None:
    config = load_tagmaps([VALID], env={})
    assert [d.name for d in config.devices] == ["potline2_cell08", "potline2_cell07"]
    assert config.origin["potline2_cell08"] == str(VALID / "csv_example.yaml")
    assert len(config.devices[0].tags) == 6  # one in YAML, five in cell08_tags.csv
    assert config.sinks is not None
    assert config.sinks.influxdb is not None
    assert config.sinks.influxdb.bucket == "plant_a"  # ${INFLUXDB_V2_BUCKET:-plant_a}
    assert config.sinks.influxdb.url is None  # left to INFLUXDB_V2_URL


def test_readme_shows_the_tested_files() -> None:
    """The examples in mappings/README.md are copies of the files the tests load."""
    readme = README.read_text(encoding="utf-8")
    shown = [
        (VALID / "example.yaml", "\ndevices:"),
        (VALID / "csv_example.yaml", "\ndevices:"),
        (VALID / "cell08_tags.csv", ""),
        (VALID / "sinks.yaml", "\nsinks:"),
        (BROKEN / "cell07.yaml", ""),
        (BROKEN / "cell08.yaml", ""),
        (BROKEN / "cell08.csv", ""),
    ]
    for path, start in shown:
        text = path.read_text(encoding="utf-8")
        body = text[text.index(start) :].lstrip("\n")
        assert f"\n{body}```\n" in readme, f"mappings/README.md does not show {path.name} as is"


@pytest.mark.parametrize(
    "model",
    [
        ModbusDevice,
        ModbusTag,
        Scaling,
        Deadband,
        SinksConfig,
        InfluxDBSinkConfig,
        FileSinkConfig,
        BufferConfig,
        HealthConfig,
        RunConfig,
        OpcuaDevice,
        OpcuaTag,
        ChangeFilter,
    ],
)
def test_readme_documents_every_field(model: type[BaseModel]) -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [name for name in model.model_fields if f"`{name}`" not in readme]
    assert not missing, f"mappings/README.md does not document {model.__name__}: {missing}"


def test_readme_opcua_example_loads_and_is_shown_as_is() -> None:
    config = load_tagmaps([OPCUA_EXAMPLE], env={"OPCUA_PASSWORD": "pw"})
    (rect,) = config.devices
    assert isinstance(rect, OpcuaDevice)
    assert rect.endpoint == "opc.tcp://127.0.0.1:4840"
    assert rect.password is not None
    assert rect.password.get_secret_value() == "pw"
    tags = {tag.name: tag for tag in rect.tags}
    assert tags["line_current"].filter == ChangeFilter(absolute=0.05)
    assert tags["energy_total"].mode is Mode.POLL
    assert tags["phase_currents"].array_length == 3
    text = OPCUA_EXAMPLE.read_text(encoding="utf-8")
    body = text[text.index("\ndevices:") :].lstrip("\n")
    assert f"\n{body}```\n" in README.read_text(encoding="utf-8")


def test_readme_byte_order_example() -> None:
    """mappings/README.md: float32 123.456 = 0x42F6E979 in each byte order."""
    assert struct.pack(">f", 123.456).hex().upper() == "42F6E979"
    registers = {
        ByteOrder.ABCD: [0x42F6, 0xE979],
        ByteOrder.CDAB: [0xE979, 0x42F6],
        ByteOrder.BADC: [0xF642, 0x79E9],
        ByteOrder.DCBA: [0x79E9, 0xF642],
    }
    for order, words in registers.items():
        assert decode(words, DataType.FLOAT32, order) == pytest.approx(123.456, rel=1e-7)


# --- files and folders ------------------------------------------------------------------------


def test_folder_is_recursive_sorted_and_each_file_loads_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "maps" / "b" / "cell09.yml", DEVICE.format(name="cell09"))
    write(tmp_path / "maps" / "a.yaml", DEVICE.format(name="cell07"))
    write(tmp_path / "maps" / "notes.txt", "not a tag map")
    config = load_tagmaps(["maps", "maps/a.yaml"], env={})
    assert [d.name for d in config.devices] == ["cell07", "cell09"]
    assert config.origin == {"cell07": "maps/a.yaml", "cell09": "maps/b/cell09.yml"}


def test_no_paths_is_an_empty_config() -> None:
    config = load_tagmaps([], env={})
    assert config == LoadedConfig(devices=(), sinks=None, origin={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.sinks = None  # type: ignore[misc]


def test_yaml_anchors_and_merge_keys(tmp_path: Path) -> None:
    text = """\
devices:
  - &cell
    name: cell06
    endpoint: modbus+tcp://127.0.0.1:5020
    byte_order: CDAB
  - <<: *cell
    name: cell07
  - <<: *cell
    name: cell08
    byte_order: ABCD
"""
    config = load_tagmaps([write(tmp_path / "map.yaml", text)], env={})
    assert [(d.name, d.endpoint, d.byte_order) for d in config.devices] == [
        ("cell06", "modbus+tcp://127.0.0.1:5020", ByteOrder.CDAB),
        ("cell07", "modbus+tcp://127.0.0.1:5020", ByteOrder.CDAB),
        ("cell08", "modbus+tcp://127.0.0.1:5020", ByteOrder.ABCD),
    ]


# --- CSV tag lists ----------------------------------------------------------------------------

CSV_MAP = """\
devices:
  - name: cell07
    endpoint: modbus+tcp://127.0.0.1:5020
    scan_groups: {fast: 200ms}
    tags_csv: [analog.csv, alarms.csv]
    tags:
      - {name: feeder_enabled, space: coil, address: 0}
"""

ANALOG = """\
# analog values of cell 7
name,space,address,type,unit,scale_factor,scale_offset,raw_low,raw_high,eng_low,eng_high,range_low,range_high,scan,deadband_absolute,deadband_percent,heartbeat,description
cell_voltage,input_register,0,float32,V,,,,,,,0,10,fast,0.005,,30s,"voltage, across the cell"
line_current,input_register,2,int16,kA,,,0,32000,0,400,,,,,1,,
bath_temperature,input_register,3,int16,degC,0.1,-50,,,,,,,2,,,,
"""

ALARMS = """\
name,space,address,type,bit
alarm_anode_effect,input_register,4,bit,0

alarm_low_alumina,input_register,4,bit,1
"""


def test_csv_rows_are_appended_after_the_yaml_tags(tmp_path: Path) -> None:
    write(tmp_path / "maps" / "analog.csv", ANALOG)
    write(tmp_path / "maps" / "alarms.csv", ALARMS)
    config = load_tagmaps([write(tmp_path / "maps" / "cell07.yaml", CSV_MAP)], env={})
    (cell,) = config.devices
    assert cell.tags_csv == ["analog.csv", "alarms.csv"]
    assert [tag.name for tag in cell.tags] == [
        "feeder_enabled",
        "cell_voltage",
        "line_current",
        "bath_temperature",
        "alarm_anode_effect",
        "alarm_low_alumina",
    ]
    voltage, current, temperature, anode, alumina = cell.tags[1:]
    assert (voltage.space, voltage.address, voltage.type) == (
        Space.INPUT_REGISTER,
        0,
        DataType.FLOAT32,
    )
    assert (voltage.range, voltage.scan, voltage.heartbeat) == ((0.0, 10.0), "fast", 30.0)
    assert voltage.deadband is not None
    assert (voltage.deadband.absolute, voltage.deadband.percent) == (0.005, None)
    assert voltage.description == "voltage, across the cell"
    assert current.scale is not None
    assert (current.scale.raw, current.scale.eng) == ((0.0, 32000.0), (0.0, 400.0))
    assert current.deadband is not None
    assert current.deadband.percent == 1.0
    assert temperature.scale is not None
    assert (temperature.scale.factor, temperature.scale.offset) == (0.1, -50.0)
    assert (temperature.scan, temperature.unit, temperature.description) == ("2", "degC", "")
    assert (anode.bit, alumina.bit) == (0, 1)


def test_single_csv_file_name(tmp_path: Path) -> None:
    write(tmp_path / "alarms.csv", ALARMS)
    text = CSV_MAP.replace("[analog.csv, alarms.csv]", "alarms.csv")
    config = load_tagmaps([write(tmp_path / "map.yaml", text)], env={})
    assert [tag.name for tag in config.devices[0].tags][1:] == [
        "alarm_anode_effect",
        "alarm_low_alumina",
    ]


# --- ${VAR} substitution ----------------------------------------------------------------------

ENV_MAP = """\
devices:
  - name: cell07
    endpoint: modbus+tcp://${PLC_HOST:-127.0.0.1}:${PLC_PORT:-5020}
    unit_id: ${UNIT}
    description: costs $$5, ${EMPTY:-empty means default}, $HOME stays
    metadata:
      site: ${SITE}
"""


def test_env_substitution(tmp_path: Path) -> None:
    path = write(tmp_path / "map.yaml", ENV_MAP)
    env = {"UNIT": "3", "SITE": "plant_a", "PLC_PORT": "1502", "EMPTY": ""}
    (cell,) = load_tagmaps([path], env=env).devices
    assert cell.endpoint == "modbus+tcp://127.0.0.1:1502"
    assert cell.unit_id == 3
    assert cell.description == "costs $5, empty means default, $HOME stays"
    assert cell.metadata == {"site": "plant_a"}


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNIT", "7")
    monkeypatch.setenv("SITE", "plant_b")
    monkeypatch.setenv("PLC_HOST", "10.0.0.7")
    (cell,) = load_tagmaps([write(tmp_path / "map.yaml", ENV_MAP)]).devices
    assert (cell.endpoint, cell.unit_id) == ("modbus+tcp://10.0.0.7:5020", 7)


def test_env_substitution_in_csv_cells(tmp_path: Path) -> None:
    write(tmp_path / "alarms.csv", "name,space,address,unit\nv,input_register,0,${UNIT_V:-V}\n")
    text = CSV_MAP.replace("[analog.csv, alarms.csv]", "alarms.csv")
    (cell,) = load_tagmaps([write(tmp_path / "map.yaml", text)], env={}).devices
    assert cell.tags[1].unit == "V"


# --- sinks and disabled devices ---------------------------------------------------------------

SINKS = "sinks:\n  stdout: true\n  file:\n    directory: ${DATA_DIR:-data}\n"


def test_sinks_from_the_one_file_that_has_them(tmp_path: Path) -> None:
    write(tmp_path / "a.yaml", DEVICE.format(name="cell07"))
    write(tmp_path / "b.yaml", SINKS)
    config = load_tagmaps([tmp_path], env={"DATA_DIR": "/var/lib/gateway"})
    assert config.sinks is not None
    assert config.sinks.stdout is True
    assert config.sinks.file is not None
    assert config.sinks.file.directory == "/var/lib/gateway"
    assert config.sinks.precision == "ms"


def test_sinks_in_two_files_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.yaml", SINKS)
    write(tmp_path / "b.yaml", DEVICE.format(name="cell07") + SINKS)
    assert problems_of(["a.yaml", "b.yaml"]) == [
        "b.yaml:6 sinks: sinks is already defined in a.yaml:1; keep it in one file",
    ]


def test_disabled_devices_are_loaded_and_validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = DEVICE.format(name="cell07").replace("    tags:", "    enabled: false\n    tags:")
    write(tmp_path / "map.yaml", text)
    (cell,) = load_tagmaps(["map.yaml"], env={}).devices
    assert cell.enabled is False
    write(tmp_path / "map.yaml", text.replace("address: 0", "address: 0, type: float32"))
    assert problems_of(["map.yaml"]) == [
        "map.yaml:6 devices[0].tags[0].type: type float32 does not fit space coil, "
        "which holds single bits (use type bool)",
    ]


# --- InfluxDB tags are the text written -------------------------------------------------------


def test_metadata_and_tag_values_are_the_text_written(tmp_path: Path) -> None:
    """YAML 1.1 reads 010 as 8 and no as false; an InfluxDB tag value is the text typed."""
    text = """\
devices:
  - &cell
    name: cell07
    endpoint: modbus+tcp://127.0.0.1:5020
    metadata: {potline: 02, shift: off}
    tags:
      - {name: a, space: coil, address: 0, tags: {phase: 01, spare: yes}}
  - <<: *cell
    name: cell08
    metadata:
      cell: 010
      line: no
      rev: 1.50
      count: 1_000
      code: 0x1F
      flag: True
      quoted: '010'
      n: 7
      ratio: 1e3
      when: 2024-01-02
"""
    config = load_tagmaps([write(tmp_path / "map.yaml", text)], env={})
    cell07, cell08 = config.devices
    assert cell07.metadata == {"potline": "02", "shift": "off"}
    assert cell07.tags[0].tags == {"phase": "01", "spare": "yes"}
    assert cell08.tags[0].tags == {"phase": "01", "spare": "yes"}  # merged from *cell
    assert cell08.metadata == {
        "cell": "010",
        "line": "no",
        "rev": "1.50",
        "count": "1_000",
        "code": "0x1F",
        "flag": "True",
        "quoted": "010",
        "n": "7",
        "ratio": "1e3",
        "when": "2024-01-02",
    }


def test_keys_are_the_text_written(tmp_path: Path) -> None:
    """Every key of a tag map is a name: `on`, `yes`, `010` and `1.5` as metadata keys (YAML
    1.1 reads them as true, true, 8 and 1.5) are the text typed, not a type error."""
    text = """\
devices:
  - name: cell07
    endpoint: modbus+tcp://127.0.0.1:5020
    metadata: {on: yes, 010: a, 1.5: b, null: c}
    tags:
      - {name: a, space: coil, address: 0, tags: {off: 1}}
"""
    (device,) = load_tagmaps([write(tmp_path / "map.yaml", text)], env={}).devices
    assert device.metadata == {"on": "yes", "010": "a", "1.5": "b", "null": "c"}
    assert device.tags[0].tags == {"off": "1"}


def test_only_label_values_keep_their_text(tmp_path: Path) -> None:
    """Numbers elsewhere stay numbers: unit_id: 010 is still YAML's 8."""
    text = DEVICE.format(name="cell07").replace("    tags:", "    unit_id: 010\n    tags:")
    (device,) = load_tagmaps([write(tmp_path / "map.yaml", text)], env={}).devices
    assert device.unit_id == 8


# --- paths in a tag map -----------------------------------------------------------------------

PATHS_MAP = """\
sinks:
  file: {directory: out}
  influxdb: {url: "http://127.0.0.1:8086", bucket: b, token_file: secret.txt}
buffer:
  directory: spool/buffer
devices:
  - name: cell07
    endpoint: modbus+tcp://127.0.0.1:5020
    tags_csv: tags.csv
"""


@pytest.fixture
def paths_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LoadedConfig:
    """plant/map.yaml loaded from tmp_path (the working directory) as a relative path."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "plant" / "map.yaml", PATHS_MAP)
    write(tmp_path / "plant" / "tags.csv", "name,space,address\na,coil,0\n")
    write(tmp_path / "plant" / "secret.txt", "t0ken\n")
    return load_tagmaps(["plant/map.yaml"], env={})


def test_csv_paths_are_relative_to_the_tag_map(paths_map: LoadedConfig) -> None:
    assert [t.name for t in paths_map.devices[0].tags] == ["a"]


def test_file_sink_directory_is_relative_to_the_tag_map(paths_map: LoadedConfig) -> None:
    assert paths_map.sinks is not None
    assert paths_map.sinks.file is not None
    assert paths_map.sinks.file.directory == str(Path("plant") / "out")


def test_buffer_directory_is_relative_to_the_tag_map(paths_map: LoadedConfig) -> None:
    assert paths_map.buffer is not None
    assert paths_map.buffer.directory == str(Path("plant") / "spool" / "buffer")


def test_token_file_is_relative_to_the_tag_map(paths_map: LoadedConfig) -> None:
    from gateway.runtime.sinkset import influx_settings

    assert paths_map.sinks is not None
    assert paths_map.sinks.influxdb is not None
    assert paths_map.sinks.influxdb.token_file == str(Path("plant") / "secret.txt")
    assert (
        influx_settings(paths_map.sinks.influxdb, env={"INFLUXDB_V2_ORG": "plant"})["token"]
        == "t0ken"
    )


def test_absolute_and_default_paths_are_kept(tmp_path: Path) -> None:
    text = f"sinks:\n  file: {{directory: {tmp_path / 'abs'}}}\nbuffer:\n  type: sqlite\n"
    config = load_tagmaps([write(tmp_path / "deep" / "map.yaml", text)], env={})
    assert config.sinks is not None
    assert config.sinks.file is not None
    assert config.sinks.file.directory == str(tmp_path / "abs")
    assert config.buffer is not None
    assert config.buffer.directory == "data/buffer"  # a default: the working directory
