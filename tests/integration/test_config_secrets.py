"""The InfluxDB token never shows: not in a repr of the config, not in any log line of a run
that writes to a real database with it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.config import load_tagmaps
from gateway.model import Point, Quality, Sample
from gateway.runtime.sinkset import build_sinks
from gateway.sinks import encode_lines
from tests.vmserver import VictoriaMetrics

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-t0ken-that-must-never-show"


def write_map(tmp_path: Path, url: str, token_line: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(
        "sinks:\n"
        "  influxdb:\n"
        f"    url: {url}\n"
        f"    {token_line}\n"
        "    org: plant\n"
        "    bucket: plant_a\n"
        "buffer:\n"
        f"  directory: {tmp_path / 'buffer'}\n"
        "health:\n"
        "  port: 0\n"
        "  stats_interval: 100ms\n",
        encoding="utf-8",
    )
    return path


def test_the_token_is_not_in_the_repr_of_the_config(tmp_path: Path) -> None:
    path = write_map(tmp_path, "http://127.0.0.1:1", "token: ${TOKEN}")
    config = load_tagmaps([path], env={"TOKEN": SECRET})
    assert config.sinks is not None
    assert config.sinks.influxdb is not None
    token = config.sinks.influxdb.token
    assert token is not None
    assert token.get_secret_value() == SECRET
    shown = [repr(config), str(config), repr(config.sinks), config.sinks.model_dump_json()]
    shown += [str(config.sinks.model_dump()), repr(token), str(token)]
    assert not [text for text in shown if SECRET in text]


@pytest.mark.parametrize("source", ["token", "token_file"])
async def test_the_sink_writes_with_the_token_and_never_logs_it(
    tmp_path: Path, victoria: VictoriaMetrics, caplog: pytest.LogCaptureFixture, source: str
) -> None:
    (tmp_path / "token.txt").write_text(SECRET + "\n")
    line = "token: ${TOKEN}" if source == "token" else "token_file: token.txt"
    config = load_tagmaps([write_map(tmp_path, victoria.url, line)], env={"TOKEN": SECRET})
    caplog.set_level(logging.DEBUG)
    for name in ("influxdb_client", "aiohttp", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name)
    (sink,) = build_sinks(config.sinks, env={})
    assert sink._token == SECRET  # type: ignore[attr-defined]
    point = Point.build("cell07", "v", "cell", "voltage", {"device": "cell07"})
    await sink.start()
    try:
        await sink.write(encode_lines([Sample(point, 4.2, Quality.GOOD, 1_700_000_000 * 10**9)]))
    finally:
        await sink.close()
    assert [s["values"] for s in victoria.export('{__name__="cell_voltage"}')] == [[4.2]]
    assert SECRET not in caplog.text
    assert SECRET not in repr(sink)


def test_a_whole_run_at_debug_never_logs_the_token(
    tmp_path: Path,
    victoria: VictoriaMetrics,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOKEN", SECRET)
    path = write_map(tmp_path, victoria.url, "token: ${TOKEN}")
    caplog.set_level(logging.DEBUG)
    assert main(["--log-level", "DEBUG", "run", str(path), "--duration", "0.5"]) == 0
    # it wrote with the token
    victoria.wait_for_series(bool, match='{__name__=~"gateway_stats_.*"}')
    assert SECRET not in caplog.text
