"""`gateway run --workers N`, the pure parts: the `run:` section, the shards, each worker's
directories, and the supervisor's merged /readyz and /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import build_parser
from gateway.collectors.registry import compile_all
from gateway.config import LoadedConfig, load_tagmaps
from gateway.errors import ConfigError
from gateway.runtime.shards import (
    assign,
    left_behind,
    started,
    worker_config,
    worker_directory,
)
from gateway.runtime.worker import parse_slot, shard_config
from gateway.telemetry.aggregate import add_label, combine_readiness, merge_metrics
from gateway.telemetry.metrics import Family, stats_lines


def device(name: str, port: int, tags: int, scan: str = "1s") -> str:
    rows = "".join(
        f"      - {{name: t{i}, space: holding_register, address: {i}, type: uint16}}\n"
        for i in range(tags)
    )
    return (
        f"  - name: {name}\n    endpoint: modbus+tcp://127.0.0.1:{port}\n"
        f"    measurement: m\n    scan_rate: {scan}\n    tags:\n{rows}"
    )


def load(tmp_path: Path, text: str, name: str = "map.yaml") -> LoadedConfig:
    path = tmp_path / name
    path.write_text(text)
    return load_tagmaps([path], env={})


def shard_names(config: LoadedConfig, workers: int) -> list[list[str]]:
    shards = assign(compile_all(config.devices), config.devices, workers)
    return [[plan.name.rsplit(":", 1)[1] for plan in shard] for shard in shards]


def test_run_workers_is_read_from_the_run_section(tmp_path: Path) -> None:
    config = load(tmp_path, "devices:\n" + device("a", 1, 1) + "run: {workers: 3}\n")
    assert config.run is not None
    assert config.run.workers == 3
    assert load(tmp_path, "devices:\n" + device("a", 1, 1), "other.yaml").run is None


@pytest.mark.parametrize("value", ["0", "-1", "two", "1000"])
def test_invalid_workers_are_refused_with_file_and_line(tmp_path: Path, value: str) -> None:
    text = "devices:\n" + device("a", 1, 1) + f"run:\n  workers: {value}\n"
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    (problem,) = info.value.problems
    assert str(problem).startswith(f"{tmp_path / 'map.yaml'}:9 run.workers: ")


def test_run_is_in_one_file_only(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("devices:\n" + device("a", 1, 1) + "run: {workers: 2}\n")
    (tmp_path / "b.yaml").write_text("run: {workers: 2}\n")
    with pytest.raises(ConfigError) as info:
        load_tagmaps([tmp_path], env={})
    assert "run is already defined in" in str(info.value.problems[0])


@pytest.mark.parametrize("value", ["0", "-2", "x"])
def test_the_workers_flag_takes_a_positive_whole_number(value: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["run", "map.yaml", "--workers", value])
    assert info.value.code == 2
    assert "--workers" in capsys.readouterr().err
    assert build_parser().parse_args(["run", "m.yaml", "--workers", "2"]).workers == 2
    assert build_parser().parse_args(["run", "m.yaml"]).workers is None


def test_shards_balance_values_per_second_and_are_the_same_every_time(tmp_path: Path) -> None:
    text = "devices:\n" + "".join(
        [
            device("big", 1, 40),  # 40 values/s
            device("fast", 2, 10, "100ms"),  # 100 values/s
            device("small1", 3, 20),
            device("small2", 4, 20),
            device("small3", 5, 30),
        ]
    )
    config = load(tmp_path, text)
    shards = shard_names(config, 2)
    assert shards == [["2"], ["1", "3", "4", "5"]]  # 100 values/s against 110
    assert shard_names(config, 2) == shards  # a restart maps each connection the same way
    assert sorted(name for shard in shard_names(config, 3) for name in shard) == list("12345")


def test_more_workers_than_connections_leaves_workers_idle(tmp_path: Path) -> None:
    config = load(tmp_path, "devices:\n" + device("a", 1, 5) + device("b", 2, 3))
    shards = assign(compile_all(config.devices), config.devices, 4)
    assert [len(s) for s in shards] == [1, 1, 0, 0]
    assert started(shards) == [0, 1]
    assert started([[], [], []]) == [0]  # nothing to read: worker 0 still drains the buffer


def test_each_worker_has_its_own_buffer_directory_and_file_prefix(tmp_path: Path) -> None:
    text = (
        "devices:\n"
        + device("a", 1, 1)
        + device("b", 2, 1)
        + f"sinks: {{file: {{directory: {tmp_path}/out}}}}\n"
        + f"buffer: {{directory: {tmp_path}/buf}}\n"
    )
    config = load(tmp_path, text)
    assert worker_config(config, 0, {}) is config  # worker 0: the files of one process
    one = worker_config(config, 1, {})
    assert one.buffer is not None
    assert one.buffer.directory == f"{tmp_path}/buf/worker-1"
    assert one.sinks is not None
    assert one.sinks.file is not None
    assert one.sinks.file.prefix == "gateway-worker1"
    assert worker_directory("data/buffer", 2) == Path("data/buffer/worker-2")
    assert [d.name for d in shard_config(config, 1, 2).devices] == ["b"]


def test_the_default_file_sink_gets_a_prefix_per_worker(tmp_path: Path) -> None:
    config = load(tmp_path, "devices:\n" + device("a", 1, 1))
    sinks = worker_config(config, 2, {}).sinks
    assert sinks is not None
    assert sinks.file is not None
    assert sinks.file.prefix == "gateway-worker2"
    influx = worker_config(config, 2, {"INFLUXDB_V2_URL": "http://db"})
    assert influx.sinks is None  # InfluxDB from the environment: nothing to change


def test_parse_slot() -> None:
    assert parse_slot("1/3") == (1, 3)
    for bad in ("3/3", "-1/2", "x/2"):
        with pytest.raises(ValueError, match=r"expected I/N|invalid literal"):
            parse_slot(bad)


WORKER_METRICS = """\
# HELP gateway_buffer_lines lines held
# TYPE gateway_buffer_lines gauge
gateway_buffer_lines{sink="influxdb"} 5
# HELP gateway_pipeline_received_total samples read
# TYPE gateway_pipeline_received_total counter
gateway_pipeline_received_total 12
"""


def test_metrics_of_the_workers_are_merged_with_a_worker_label() -> None:
    own = [Family("gateway_worker_up", "gauge", "up", [((("worker", "0"),), 1.0)])]
    text = merge_metrics({1: WORKER_METRICS, 0: WORKER_METRICS.replace(" 5", " 7")}, own)
    assert text.splitlines() == [
        "# HELP gateway_buffer_lines lines held",
        "# TYPE gateway_buffer_lines gauge",
        'gateway_buffer_lines{worker="0",sink="influxdb"} 7',
        'gateway_buffer_lines{worker="1",sink="influxdb"} 5',
        "# HELP gateway_pipeline_received_total samples read",
        "# TYPE gateway_pipeline_received_total counter",
        'gateway_pipeline_received_total{worker="0"} 12',
        'gateway_pipeline_received_total{worker="1"} 12',
        "# HELP gateway_worker_up up",
        "# TYPE gateway_worker_up gauge",
        'gateway_worker_up{worker="0"} 1',
    ]
    assert add_label("m{} 1\n", "worker", "3") == ['m{worker="3"} 1']


def test_readiness_needs_every_worker_and_names_those_that_are_not() -> None:
    assert combine_readiness(
        {0: (True, "ready: 2 devices up"), 1: (True, "ready: 1 devices up")}
    ) == (
        True,
        "ready: worker 0: 2 devices up; worker 1: 1 devices up",
    )
    ok, text = combine_readiness({0: (True, "ready: 2 devices up"), 1: (False, "no device up")})
    assert not ok
    assert text == "worker 0: 2 devices up; worker 1: no device up"
    ok, text = combine_readiness({0: (True, "ready: 2 devices up"), 1: None})
    assert not ok
    assert "worker 1: not running" in text


def test_stats_lines_of_a_worker_carry_its_index() -> None:
    family = Family("gateway_buffer_lines", "gauge", "", [((("sink", "influxdb"),), 3.0)])
    assert stats_lines([family], 2_000_000, 1_000_000, (("worker", "1"),)) == [
        "gateway_stats,worker=1,sink=influxdb buffer_lines=3.0 2"
    ]
    assert stats_lines([family], 2_000_000, 1_000_000) == [
        "gateway_stats,sink=influxdb buffer_lines=3.0 2"
    ]


def test_buffers_of_workers_not_started_are_found_when_they_hold_lines(tmp_path: Path) -> None:
    import asyncio

    from gateway.buffer.sqlite import SqliteBuffer

    async def fill(path: Path, lines: list[str]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = SqliteBuffer(path, name="influxdb")
        await buffer.open()
        buffer.put(lines)
        await buffer.persist()
        await buffer.close()

    asyncio.run(fill(tmp_path / "worker-2" / "influxdb.sqlite", ["m v=1 1", "m v=2 2"]))
    asyncio.run(fill(tmp_path / "worker-3" / "influxdb.sqlite", []))  # empty: nothing to say
    assert left_behind(tmp_path, [0, 1]) == {tmp_path / "worker-2" / "influxdb.sqlite": 2}
    assert left_behind(tmp_path, [0, 1, 2]) == {}
    assert left_behind(tmp_path / "missing", [0]) == {}


def test_a_worker_refuses_tag_maps_changed_since_the_supervisor_split_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.errors import GatewayError
    from gateway.runtime.shards import DIGEST_ENV, digest

    before = load(tmp_path, "devices:\n" + device("a", 1, 5) + device("b", 2, 3))
    monkeypatch.setenv(DIGEST_ENV, digest(assign(compile_all(before.devices), before.devices, 2)))
    assert [d.name for d in shard_config(before, 1, 2).devices] == ["b"]
    # an endpoint added while the gateway runs: a restarted worker would split anew
    edited = load(
        tmp_path, "devices:\n" + device("a", 1, 5) + device("b", 2, 3) + device("c", 3, 9)
    )
    with pytest.raises(GatewayError, match="tag maps changed since the gateway started"):
        shard_config(edited, 1, 2)
    monkeypatch.delenv(DIGEST_ENV)
    assert shard_config(edited, 1, 2).devices  # started by hand: no fingerprint to compare


def test_a_one_process_start_says_what_worker_buffers_still_hold(tmp_path: Path) -> None:
    import asyncio
    import os
    import subprocess
    import sys

    from gateway.buffer.sqlite import SqliteBuffer

    async def fill(path: Path) -> None:
        path.parent.mkdir(parents=True)
        buffer = SqliteBuffer(path, name="file")
        await buffer.open()
        buffer.put(["m v=1 1", "m v=2 2", "m v=3 3"])
        await buffer.persist()
        await buffer.close()

    asyncio.run(fill(tmp_path / "buffer" / "worker-1" / "file.sqlite"))
    path = tmp_path / "map.yaml"
    path.write_text(
        "devices:\n" + device("a", 1, 1) + "buffer: {directory: buffer}\nhealth: {port: 0}\n"
        "sinks: {file: {directory: out}}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "run", str(path), "--duration", "0.2"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert "worker-1/file.sqlite holds 3 lines of a worker this start does not run" in done.stderr
