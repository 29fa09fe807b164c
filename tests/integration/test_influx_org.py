"""The InfluxDB sink needs an org (InfluxDB 2 answers 400 to every write without one): a
missing org is a config error at start, located at the file and line of the `sinks:` section."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.errors import GatewayError
from gateway.sinks.influxdb import InfluxDBSink

pytestmark = pytest.mark.integration

MAP = """devices:
  - name: rect
    endpoint: modbus+tcp://127.0.0.1:1
    measurement: rectifier
    tags:
      - {name: current, space: input_register, address: 0, type: float32}
"""


@pytest.fixture
def no_influx_env(monkeypatch):
    for name in ("URL", "TOKEN", "ORG", "BUCKET"):
        monkeypatch.delenv(f"INFLUXDB_V2_{name}", raising=False)


def run(path: Path) -> int:
    return main(["run", str(path), "--duration", "1", "--health-port", "0"])


def test_a_sinks_section_without_org_is_an_error_with_file_and_line(
    tmp_path, capsys, no_influx_env
):
    path = tmp_path / "r.yaml"
    path.write_text(
        MAP + f"buffer: {{directory: {tmp_path}/buffer}}\n"
        "sinks:\n  influxdb: {url: 'http://127.0.0.1:1', bucket: b, token: t}\n"
    )
    assert run(path) == 2
    err = capsys.readouterr().err
    assert f"{path}:8 sinks.influxdb.org: not set (set it here or in INFLUXDB_V2_ORG)" in err
    assert "Traceback" not in err


def test_every_missing_setting_is_reported_at_once(tmp_path, capsys, no_influx_env, monkeypatch):
    monkeypatch.setenv("INFLUXDB_V2_URL", "localhost:8086")
    path = tmp_path / "r.yaml"
    path.write_text(MAP + f"buffer: {{directory: {tmp_path}/buffer}}\n")
    assert run(path) == 2
    err = capsys.readouterr().err
    assert "influxdb.org: not set" in err
    assert "influxdb.bucket: not set" in err
    assert "influxdb.url: 'localhost:8086' is not an http:// or https:// URL" in err


def test_an_org_from_the_environment_is_enough(tmp_path):
    from gateway.config import load_tagmaps
    from gateway.runtime.sinkset import build_sinks

    path = tmp_path / "r.yaml"
    path.write_text(MAP + "sinks:\n  influxdb: {url: 'http://127.0.0.1:1', bucket: b}\n")
    config = load_tagmaps([path], env={})
    (sink,) = build_sinks(config.sinks, {"INFLUXDB_V2_ORG": "plant"})
    assert isinstance(sink, InfluxDBSink)
    assert sink.org == "plant"


async def test_the_sink_itself_refuses_to_start_without_an_org():
    sink = InfluxDBSink("http://127.0.0.1:1", "token", "", "bucket")
    with pytest.raises(GatewayError, match="org"):
        await sink.start()
