"""Large tag maps held compactly: what tags have in common is one object, each CSV tag list
is read once, and the problems of shared rows are still located in every device."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.collectors.modbus.compile import compile_device
from gateway.collectors.modbus.models import ModbusDevice
from gateway.config import load_tagmaps
from gateway.errors import ConfigError
from gateway.pipeline.scale import Scale

TWO_DEVICES = """\
devices:
  - name: cell01
    endpoint: modbus+tcp://127.0.0.1:5020
    metadata: {site: a}
    tags_csv: tags.csv
    tags:
      - {name: v1, space: holding_register, address: 100, type: float32, scale: {factor: 2}}
      - {name: v2, space: holding_register, address: 102, type: float32, scale: {factor: 2}}
  - name: cell02
    endpoint: modbus+tcp://127.0.0.1:5020
    unit_id: 2
    tags_csv: tags.csv
"""

CSV = "name,space,address,type\nt1,holding_register,0,uint16\nt2,holding_register,1,uint16\n"


def load(tmp_path: Path, csv: str = CSV) -> list[ModbusDevice]:
    (tmp_path / "map.yaml").write_text(TWO_DEVICES, encoding="utf-8")
    (tmp_path / "tags.csv").write_text(csv, encoding="utf-8")
    devices = load_tagmaps([tmp_path / "map.yaml"], env={}).devices
    return [d for d in devices if isinstance(d, ModbusDevice)]


def test_tags_share_their_field_sets_and_equal_nested_models(tmp_path: Path) -> None:
    one, two = load(tmp_path)
    v1, v2 = one.tags[0], one.tags[1]
    assert v1.__pydantic_fields_set__ is v2.__pydantic_fields_set__
    assert v1.scale is v2.scale
    assert v1.tags is two.tags[0].tags  # the empty mapping of extra tags
    # the values are those validated
    assert (
        v1.model_dump()
        == ModbusDevice.model_validate(
            {"name": "x", "endpoint": "modbus+tcp://h", "tags": [v1.model_dump()]}
        )
        .tags[0]
        .model_dump()
    )
    assert v1.model_copy(update={"name": "w"}).model_fields_set >= {"name", "scale"}
    assert v1.model_fields_set == {"name", "space", "address", "type", "scale"}


def test_a_csv_named_by_two_devices_is_read_once_and_shares_its_texts(tmp_path: Path) -> None:
    one, two = load(tmp_path)
    assert [t.name for t in one.tags] == ["v1", "v2", "t1", "t2"]
    assert [t.name for t in two.tags] == ["t1", "t2"]
    assert one.tags[2].name is two.tags[0].name
    assert one.tags[2] is not two.tags[0]


def test_the_numbers_of_a_shared_csv_list_are_one_object_for_every_device(
    tmp_path: Path,
) -> None:
    one, two = load(tmp_path, CSV.replace(",0,", ",1000,"))
    assert one.tags[2].address == 1000
    assert one.tags[2].address is two.tags[0].address  # parsed from text once per device


def test_a_bad_shared_row_is_located_in_each_device(tmp_path: Path) -> None:
    bad = CSV + "t3,holding_register,x,uint16\n"
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, bad)
    where = str(tmp_path / "tags.csv")
    assert [str(p) for p in caught.value.problems] == [
        f"{where}:4 devices[0].tags[4].address: expected a whole number, not 'x' (column address)",
        f"{where}:4 devices[1].tags[2].address: expected a whole number, not 'x' (column address)",
    ]


def test_the_points_of_a_device_share_their_tag_set_and_series(tmp_path: Path) -> None:
    one, _ = load(tmp_path)
    points = [t.point for scan in compile_device(one) for t in scan.tags]
    assert len(points) == 4
    assert all(p.tags is points[0].tags and p.series is points[0].series for p in points)
    assert points[0].series == "modbus,device=cell01,site=a"


def test_tags_scaled_alike_share_their_scaling_and_scale_rule(tmp_path: Path) -> None:
    one, _ = load(tmp_path)
    v1, v2 = (t for scan in compile_device(one) for t in scan.tags if t.point.tag in ("v1", "v2"))
    assert v1.scale == (2.0, 0.0)
    assert v1.scale is v2.scale
    # as built from separate tuples too (another protocol, another compile step)
    stage = Scale({v1.point: (2.0, 0.0), v2.point: (float(2), 0.0)})
    assert stage.rules[v1.point] is stage.rules[v2.point]
    assert stage.rules[v1.point] == (2.0, 0.0, 0)


def test_checking_a_map_does_not_import_the_influxdb_client(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text(TWO_DEVICES, encoding="utf-8")
    (tmp_path / "tags.csv").write_text(CSV, encoding="utf-8")
    code = (
        "import sys\nfrom gateway.cli import main\n"
        f"assert main(['check', {str(tmp_path / 'map.yaml')!r}]) == 0\n"
        "print(sorted(m for m in ('aiohttp', 'influxdb_client') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_the_influxdb_sink_does_without_aiohttp() -> None:
    # influxdb-client's async client needs aiohttp: ~10 MB of imports in every gateway
    code = (
        "import asyncio, sys\nfrom gateway.sinks.influxdb import InfluxDBSink\n"
        "sink = InfluxDBSink('http://127.0.0.1:9', 't', 'o', 'b')\n"
        "asyncio.run(sink.start())\nasyncio.run(sink.close())\n"
        "print('aiohttp' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
