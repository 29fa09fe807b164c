"""`gateway run` says once, at start, where the data goes and what it polls (never the token)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.config import load_tagmaps
from gateway.runtime.assemble import build_gateway

MAP = """\
devices:
  - name: cell01
    endpoint: modbus+tcp://127.0.0.1:5020
    unit_id: 1
    tags:
      - {name: v, space: input_register, address: 0}
      - {name: i, space: input_register, address: 1, scan: 5s}
  - name: cell02
    endpoint: modbus+tcp://127.0.0.1:5020
    unit_id: 2
    tags:
      - {name: v, space: input_register, address: 0}
  - name: rect
    endpoint: modbus+tcp://10.0.0.9
    tags:
      - {name: a, space: coil, address: 0}
      - {name: b, space: coil, address: 1}
      - {name: c, space: coil, address: 2}
buffer: {type: memory}
health: {port: 0, stats_interval: null}
"""

TOKEN = "s3cr3t-t0ken"


async def start_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, sinks: str, env: dict[str, str]
) -> list[str]:
    path = tmp_path / "map.yaml"
    path.write_text(MAP + sinks, encoding="utf-8")
    config = load_tagmaps([str(path)], env=env)
    with caplog.at_level(logging.INFO, logger="gateway"):
        build_gateway(config, env=env)
    return [r.getMessage() for r in caplog.records if r.name.startswith("gateway.runtime")]


async def test_influxdb_sink_and_connections_are_logged_without_the_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = {
        "INFLUXDB_V2_URL": "https://writer:pa55@influx.plant:8086",
        "INFLUXDB_V2_TOKEN": TOKEN,
        "INFLUXDB_V2_ORG": "plant",
        "INFLUXDB_V2_BUCKET": "historian",
    }
    messages = await start_log(tmp_path, caplog, "", env)
    assert messages == [
        "sink influxdb: InfluxDB https://influx.plant:8086, org 'plant', bucket 'historian' "
        "(precision ms)",
        "connection modbus+tcp://127.0.0.1:5020: 2 devices (cell01, cell02), 3 tags",
        "connection modbus+tcp://10.0.0.9:502: 1 device (rect), 3 tags",
    ]
    assert not any(TOKEN in r.getMessage() or "pa55" in r.getMessage() for r in caplog.records)


async def test_file_and_stdout_sinks_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sinks = f"sinks: {{file: {{directory: {tmp_path / 'lp'}}}, stdout: true}}\n"
    messages = await start_log(tmp_path, caplog, sinks, {})
    assert messages[:2] == [
        f"sink file: line-protocol files {tmp_path / 'lp' / 'gateway.lp'} "
        "(rotated at 67108864 bytes, 10 kept)",
        "sink stdout: standard output",
    ]
