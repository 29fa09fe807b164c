"""The registry: a protocol registered from outside the core (tests/unit/fakeprotocol.py)
is loaded, checked, compiled, planned, read once and run through the pipeline into a sink,
with no change to the core; the device union's errors name the known protocols."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.collectors import registry
from gateway.collectors.modbus.models import ModbusDevice
from gateway.config import load_tagmaps
from gateway.errors import ConfigError
from gateway.runtime.app import Gateway
from gateway.sinks.memory import MemorySink
from gateway.telemetry.metrics import collect, render_prometheus
from gateway.testing import memory_forwarders
from tests.unit import fakeprotocol
from tests.unit.fakeprotocol import FakeDevice, FakePlan

FAKE_MAP = """\
devices:
  - name: bench
    protocol: fake
    source: lab
    scan_rate: 50ms
    metadata: {site: lab}
    tags_csv: more.csv
    tags:
      - {name: level, value: 21, scale: {factor: 2}}
      - {name: mode, value: auto, kind: text}
"""
FAKE_CSV = "name,value,unit\ntemp,7.5,degC\n"


@pytest.fixture
def fake() -> Iterator[None]:
    registry.register(fakeprotocol.PLUGIN)
    try:
        yield
    finally:
        registry.unregister("fake")


def write(tmp_path: Path, text: str, name: str = "map.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_registered_protocol_is_loaded_with_its_model_and_csv_columns(tmp_path, fake):
    write(tmp_path, FAKE_CSV, "more.csv")
    config = load_tagmaps([write(tmp_path, FAKE_MAP)])
    (device,) = config.devices
    assert isinstance(device, FakeDevice)
    assert [t.name for t in device.tags] == ["level", "mode", "temp"]
    (plan,) = registry.compile_all(config.devices)
    assert isinstance(plan, FakePlan)
    assert plan.name == "fake://lab"


def test_plan_and_once_work_through_the_contract(tmp_path, fake, capsys):
    write(tmp_path, FAKE_CSV, "more.csv")
    path = write(tmp_path, FAKE_MAP)
    assert main(["plan", str(path)]) == 0
    assert capsys.readouterr().out == "connection fake://lab\n  device bench: level, mode, temp\n"
    assert main(["once", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(
        'fake,device=bench,site=lab level=42.0,level_quality=0i,mode="auto",mode_quality=0i,'
        "temp=7.5,temp_quality=0i "
    )


async def test_run_scans_through_the_pipeline_into_a_sink_and_metrics(tmp_path, fake):
    write(tmp_path, FAKE_CSV, "more.csv")
    config = load_tagmaps([write(tmp_path, FAKE_MAP)])
    sink = MemorySink()
    gateway = Gateway(
        registry.compile_all(config.devices), memory_forwarders(sink), commit_interval=0
    )
    run = asyncio.create_task(gateway.run())
    try:
        await sink.wait_for(lambda lines: len(lines) >= 2, 10)
        metrics = render_prometheus(collect(gateway, 0))
    finally:
        gateway.stop()
        assert await run is True
    fields = sink.fields("fake")
    assert fields[0] == {
        "level": 42.0,
        "level_quality": 0,
        "mode": "auto",
        "mode_quality": 0,
        "temp": 7.5,
        "temp_quality": 0,
    }
    assert 'gateway_device_scans_total{device="bench"}' in metrics
    assert 'gateway_connection_up{endpoint="fake://lab"}' in metrics
    (collector,) = gateway.connections
    assert isinstance(collector, fakeprotocol.FakeCollector)
    assert collector.closed


def test_a_value_type_the_encoder_cannot_hold_is_a_config_error_at_its_line(tmp_path, fake):
    path = write(
        tmp_path,
        "devices:\n  - name: bench\n    protocol: fake\n    source: lab\n    tags:\n"
        "      - {name: ok, value: 1}\n      - {name: raw, kind: blob}\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_tagmaps([path])
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:7 devices[0].tags[1]: values of type bytes cannot be written to InfluxDB "
        "(line protocol holds bool, int, float and str)"
    ]


def test_an_unknown_protocol_names_the_known_ones_at_its_line(tmp_path, fake):
    path = write(
        tmp_path,
        "devices:\n  - name: a\n    endpoint: modbus+tcp://127.0.0.1:502\n"
        "  - name: b\n    protocol: profinet\n    endpoint: x\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_tagmaps([path])
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:5 devices[1].protocol: unknown protocol 'profinet'; "
        "known protocols: fake, modbus, opcua"
    ]


def test_without_protocol_a_device_is_modbus(tmp_path):
    path = write(
        tmp_path,
        "devices:\n  - name: a\n    endpoint: modbus+tcp://127.0.0.1:502\n"
        "    tags: [{name: t, space: holding_register, address: 0}]\n",
    )
    (device,) = load_tagmaps([path]).devices
    assert isinstance(device, ModbusDevice)
    assert device.protocol == "modbus"
    assert registry.known() == ["modbus", "opcua"]


def test_the_schema_union_is_discriminated_on_protocol(fake):
    from pydantic import TypeAdapter

    adapter = TypeAdapter(registry.device_union())
    assert isinstance(
        adapter.validate_python({"name": "x", "source": "s", "protocol": "fake"}), FakeDevice
    )
    assert isinstance(
        adapter.validate_python({"name": "x", "endpoint": "modbus+tcp://h"}), ModbusDevice
    )


def test_a_protocol_adds_a_subcommand_of_its_own(tmp_path, capsys):
    """A plugin's `commands` become `gateway` subcommands (how OPC UA adds `browse`); the
    core's own command names are never taken over."""

    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("target")
        parser.add_argument("--times", type=int, default=1)

    def hello(args: argparse.Namespace) -> int:
        print(" ".join([f"hello {args.target}"] * args.times))
        return 3

    own = registry.Command("hello", "say hello", arguments, hello)
    clash = registry.Command("check", "not the core's check", arguments, hello)
    plugin = dataclasses.replace(fakeprotocol.PLUGIN, protocol="greeter", commands=(own, clash))
    registry.register(plugin)
    try:
        assert main(["hello", "world", "--times", "2"]) == 3
        assert capsys.readouterr().out == "hello world hello world\n"
        assert main(["check", str(write(tmp_path, "devices: []\n"))]) == 0
        assert capsys.readouterr().out.startswith("OK: 0 devices")
    finally:
        registry.unregister("greeter")
    assert "hello" not in {c.name for c in registry.commands()}


def test_checks_across_devices_get_the_protocols_own_devices_and_point_at_their_fields(
    tmp_path,
):
    """`check_across` / `warn_across` see the valid devices of their protocol only (in load
    order, every file) and report at `devices[index]`'s own field."""
    seen: list[list[str]] = []

    def one_source(devices):
        seen.append([d.name for d in devices])
        first: dict[str, str] = {}
        found = []
        for index, device in enumerate(devices):
            owner = first.setdefault(device.source, device.name)
            if owner != device.name:
                found.append((index, [(("source",), f"{device.source!r} is taken by {owner!r}")]))
        return found

    def busy(devices):
        return [(0, [(("source",), "shared")])]

    across = dataclasses.replace(fakeprotocol.PLUGIN, check_across=one_source, warn_across=busy)
    registry.register(across)
    try:
        path = write(
            tmp_path,
            "devices:\n"
            "  - {name: a, protocol: fake, source: lab}\n"
            "  - {name: m, endpoint: 'modbus+tcp://plc'}\n"
            "  - name: b\n    protocol: fake\n    source: lab\n",
        )
        with pytest.raises(ConfigError) as caught:
            load_tagmaps([path])
    finally:
        registry.unregister("fake")
    assert seen == [["a", "b"]]
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:6 devices[2].source: 'lab' is taken by 'a'"
    ]
    assert [str(p) for p in caught.value.warnings] == [
        f"{path}:2 devices[0].source: warning: shared"
    ]
